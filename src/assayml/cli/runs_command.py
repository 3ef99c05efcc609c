"""``assay runs``: list runs and sweep jobs; ``assay runs compare A B``: what differs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assayml.errors import EXIT_OK, AssayError

HEADLINE_METRICS = ("accuracy", "auroc", "f1", "rmse", "r2", "cv.accuracy_mean", "cv.rmse_mean")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assay runs", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--limit", type=int, default=50, help="newest N runs (default 50)")
    sub = p.add_subparsers(dest="action")
    compare = sub.add_parser("compare", help="config, data, code and metric differences")
    compare.add_argument("a", help="run id, or its unique end (see `assay runs`)")
    compare.add_argument("b")
    compare.add_argument("--json", action="store_true", dest="json_compare")
    return p


def run_runs(args: list[str]) -> int:
    from assayml.experiments.runs import compare_runs, find_runs, resolve_run

    opts = parser().parse_args(args)
    try:
        runs = find_runs()
        if opts.action == "compare":
            diff = compare_runs(resolve_run(opts.a, runs), resolve_run(opts.b, runs))
            text = json.dumps(diff, indent=2) if opts.json_compare else format_compare(diff)
            print(text)
            return EXIT_OK
    except AssayError as err:
        print(f"assay runs: error: {err}", file=sys.stderr)
        return err.exit_code
    runs = runs[: opts.limit]
    print(
        json.dumps([{"id": r.id, **r.doc} for r in runs], indent=2)
        if opts.json
        else format_list(runs)
    )
    return EXIT_OK


def format_list(runs) -> str:
    if not runs:
        return "no runs yet (runs leave .assay/runs/*/run.json; sweeps multirun/*/*/run.json)"
    rows = [("id", "command", "status", "data", "commit", "metrics", "overrides")]
    for run in runs:
        doc = run.doc
        data, git = doc.get("data") or {}, doc.get("git") or {}
        commit = (git.get("commit") or "-")[:8] + ("*" if git.get("dirty") else "")
        shown = "  ".join(
            f"{k}={run.metrics[k]:.4g}"
            for k in HEADLINE_METRICS
            if isinstance(run.metrics.get(k), (int, float))
        )
        rows.append(
            (
                run.id,
                doc.get("command", ""),
                doc.get("status", ""),
                (data.get("md5") or "-")[:8],
                commit,
                shown,
                " ".join(doc.get("overrides", [])),
            )
        )
    return _table(rows)


def format_compare(diff: dict[str, Any]) -> str:
    a, b = diff["runs"]
    lines = [f"A = {a} ({diff['status'][0]})", f"B = {b} ({diff['status'][1]})", "", "config:"]
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, (va, vb) in diff["config"].items()] or ["  same"]
    for name in ("data", "code"):
        part = diff[name]
        lines.append(
            f"{name}: "
            + (
                "same " + _brief(part["a"])
                if part["same"]
                else f"{_brief(part['a'])} -> {_brief(part['b'])}"
            )
        )
    lines.append("metrics:")
    rows = [("", "A", "B", "B - A")] + [
        (k, _num(va), _num(vb), _num(d)) for k, (va, vb, d) in diff["metrics"].items()
    ]
    lines += ["  " + line for line in _table(rows).splitlines()]
    return "\n".join(lines)


def _brief(part: Any) -> str:
    if not isinstance(part, dict):
        return str(part)
    if "md5" in part:
        where = part.get("path") or part.get("name")
        return f"{where}@{part.get('rev') or 'workspace'} md5 {str(part.get('md5'))[:12]}"
    commit = str(part.get("commit"))[:12]
    return f"commit {commit}" + (" (dirty)" if part.get("dirty") else "")


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def _table(rows: list[tuple]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
