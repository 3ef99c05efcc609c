"""The summary of a Hydra sweep: one row per job (overrides, status, metrics), best first,
written as ``summary.csv`` and ``summary.md`` in the sweep directory.

A Hydra callback, run in the launching process when the sweep ends; for a sweep of
``assay run`` it then runs ``run.after_sweep`` (explain, baseline) for the best job. It
reads each job's ``run.json`` rather than anything held in memory, because launchers such
as joblib run the jobs in other processes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from assayml.errors import EXIT_BAD_INPUT, EXIT_INTERNAL
from assayml.experiments.objective import resolve_objective
from assayml.experiments.run_record import RUN_FILE
from assayml.utils.io import atomic_outputs
from assayml.verbosity import say

LAST_SWEEP: dict[str, Any] = {}  # the latest summary, for the CLI's exit code
SWEEP_PROBLEMS: list[str] = []  # problems that stopped or spoiled the latest sweep


def report_sweep_problem(message: str) -> None:
    print(f"assay: sweep error: {message}", file=sys.stderr, flush=True)
    SWEEP_PROBLEMS.append(message)


def sweep_exit_code(codes: list[int]) -> int:
    """0 when every job passed; an internal error (1) outranks input (2) and check (3)
    failures, so a crash is never hidden behind a bad config elsewhere in the sweep."""
    if SWEEP_PROBLEMS:
        return EXIT_BAD_INPUT
    failed = [code for code in codes if code]
    return EXIT_INTERNAL if EXIT_INTERNAL in failed else max(failed, default=0)


class SweepSummary(Callback):
    def on_multirun_end(self, config, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        objective = config.get("objective") or {}
        metric, direction = (_name(objective.get(k, "auto")) for k in ("metric", "direction"))
        try:
            summary = summarise_sweep(sweep_dir, metric, direction)
        except ValueError as err:  # an objective no job can be ranked by
            report_sweep_problem(str(err))
            return
        LAST_SWEEP.clear()
        LAST_SWEEP.update(summary)
        if summary["rows"]:
            say(f"\nsweep summary ({sweep_dir}/summary.md):\n{summary['markdown']}")
        best = summary["rows"][0] if summary["rows"] else None
        if best and best["status"] == "ok" and not SWEEP_PROBLEMS:
            from assayml.experiments.sweep_jobs import finish_best_job

            code = finish_best_job(sweep_dir, best)  # explain, baseline: once, for the best
            if code is not None:
                summary["codes"].append(code)


def summarise_sweep(sweep_dir: Path, metric: str = "auto", direction: str = "auto") -> dict:
    """Read every job's run.json under ``sweep_dir``; write summary.csv and summary.md."""
    runs = [json.loads(p.read_text()) | {"job": p.parent.name}
            for p in sorted(sweep_dir.glob(f"*/{RUN_FILE}"), key=_job_order)]  # fmt: skip
    if not runs:
        return {"rows": [], "codes": [], "markdown": ""}
    ok = next((r["metrics"] for r in runs if r["status"] == "ok" and r["metrics"]), {})
    metric, direction = resolve_objective(metric, direction, ok)
    if ok and metric not in ok:
        raise ValueError(
            f"objective.metric '{metric}' is not among the jobs' metrics ({', '.join(sorted(ok))})"
        )
    runs.sort(key=lambda r: _rank(r, metric, direction))
    metric_keys = sorted({k for r in runs for k in r["metrics"]}, key=lambda k: (k != metric, k))
    rows = [_row(r, metric_keys) for r in runs]
    markdown = _markdown(rows, metric, direction)
    with atomic_outputs() as out:
        out.write_text(sweep_dir / "summary.csv", _csv(rows))
        out.write_text(sweep_dir / "summary.md", markdown)
    return {"rows": rows, "codes": [r["exit_code"] for r in runs], "markdown": markdown,
            "metric": metric, "direction": direction}  # fmt: skip


def _name(value: Any) -> str:
    """Enum members (typed config) and plain strings (YAML) alike."""
    return str(getattr(value, "name", value))


def _job_order(path: Path) -> tuple[int, str]:
    name = path.parent.name
    return (int(name), name) if name.isdigit() else (math.inf, name)


def _rank(run: dict, metric: str, direction: str) -> tuple[int, float]:
    value = run["metrics"].get(metric)
    if run["status"] != "ok" or value is None:
        return (1, 0.0)
    return (0, -value if direction == "maximize" else value)


def _row(run: dict, metric_keys: list[str]) -> dict[str, Any]:
    shown = [o for o in run["overrides"] if not o.startswith(("tune.", "hparams_search="))]
    row = {"job": run["job"], "status": run["status"], "overrides": " ".join(shown)}
    row.update({k: run["metrics"].get(k) for k in metric_keys})
    row["error"] = (run.get("error") or "").splitlines()[0] if run.get("error") else ""
    return row


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _markdown(rows: list[dict[str, Any]], metric: str, direction: str) -> str:
    keys = list(rows[0])
    lines = [f"ranked by {metric} ({direction}), best first", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]  # fmt: skip
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")
