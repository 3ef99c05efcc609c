"""Monitoring executions of a watched capture folder: each reads the records no earlier
execution read, writes ``OUT/<execution>/`` (violations.json, monitor.json, report.html
with the trends, execution.json, and alerts.json when an alert went out), then appends its
line to ``OUT/history.jsonl``, then records what it read in the state file.

That order makes a crash harmless: outputs first, the history line and the state last,
so a file is marked read only when its execution's outputs are in place; the next call
finds an execution folder the state does not know and rolls the history and the state
forward from its ``execution.json`` (sending its alert if that had not gone out), instead
of reading the same records again. History lines and ``execution.json`` share one layout,
``history_line`` below."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from assayml.errors import ArtifactError, DataError
from assayml.monitor import alerts
from assayml.monitor.watch import Piece, closed_pieces, load_state, mark_read, read_pieces
from assayml.monitor.watch import save_state as _save_state
from assayml.utils.io import atomic_outputs, finite

ID_PATTERN = re.compile(r"\d{8}T\d{6}\.\d{6}Z")  # an execution folder's name
TEMP = re.compile(r"\.\d+-[0-9a-f]+\.(?:tmp|old)\.(.+)")  # utils/fsops.temp_sibling
HISTORY = "history.jsonl"
STATE = "state.json"
RECORD = "execution.json"


@dataclass
class Watch:
    """One watched folder and everything its executions need."""

    folder: Path
    out: Path
    baseline: Any  # inputs.Baseline, with the operational settings applied
    deployed: Any  # serve.deployed.Deployed
    threshold: float = 0.5
    ground_truth: str | None = None  # labels file, joined by capture id
    webhook: str | None = None  # overrides monitor.alerts.webhook
    state_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def state_file(self) -> Path:
        return self.state_path or self.out / STATE

    @property
    def settings(self):
        return self.baseline.settings


def execute(watch: Watch, now: float | None = None) -> dict[str, Any] | None:
    """One execution over the unread closed capture files; None when there are none.
    Holds a lock on the state file throughout, so two monitors never share records."""
    from filelock import FileLock, Timeout

    if not watch.folder.is_dir():
        raise DataError(f"{watch.folder}: no such capture folder")
    watch.out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(watch.state_file) + ".lock")
    try:
        lock.acquire(timeout=600)
    except Timeout:
        raise ArtifactError(
            f"{watch.state_file}.lock: another `assay monitor --watch` has held it for 10 "
            "minutes; if none is running, remove the lock file"
        ) from None
    try:
        state = load_state(watch.state_file, watch.folder)
        state = recover(watch, state)
        found, still_open = closed_pieces(watch.folder, state, watch.settings.settle_s, now)
        records, pieces = read_pieces(watch.folder, found)
        watch.notes += [p.note for p in found if p.note]
        if still_open:
            watch.notes.append(f"{len(still_open)} capture files still being written")
        if not pieces:
            return None
        return _execute(watch, state, records, pieces)
    finally:
        lock.release()


def pending(folder: Path, out: Path, state_path: Path | None, settle_s: float) -> bool:
    """Whether an execution would find anything to do (unread closed files, or an
    execution to roll forward); read-only and cheap, for a cron job that runs often."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such capture folder")
    state = load_state(state_path or out / STATE, folder)
    last = state.get("last_execution") or ""
    if any(r.parent.name > last for r in _records(out)):
        return True
    return bool(closed_pieces(folder, state, settle_s)[0])


def _execute(watch: Watch, state, records, pieces: list[Piece]) -> dict[str, Any]:
    from assayml.monitor.inputs import captured_current
    from assayml.monitor.run import monitor

    execution = new_id(state.get("last_execution"))
    source = f"{watch.folder} ({len(pieces)} files, execution {execution})"
    current = captured_current(records, source)
    report = monitor(current, watch.baseline, watch.deployed, None, watch.threshold)
    if "variant" in records.columns:  # assay serve --variant: which model answered each row
        counts = records["variant"].fillna("(none)").astype(str).value_counts()
        report["variants"] = {str(k): int(v) for k, v in sorted(counts.items())}
    if watch.ground_truth:
        _label_window(watch, report, current, pieces)
    history = read_history(watch.out)
    line = history_line(execution, report, pieces)
    folder = watch.out / execution
    write_execution(folder, report, watch.baseline, current, line, history)
    line["alerts"] = _alert(watch, report, folder, execution)
    append_history(watch.out, line)
    _save_state(watch.state_file, mark_read(state, pieces, execution))
    return line


def new_id(last: str | None) -> str:
    """A UTC timestamp, microseconds included, later than ``last`` (ids sort as times)."""
    stamp = datetime.now(UTC)
    execution = stamp.strftime("%Y%m%dT%H%M%S.%fZ")
    return execution if last is None or execution > last else _after(last)


def _after(last: str) -> str:
    """One microsecond after ``last`` (the clock stepped back, or two in one microsecond)."""
    stamp = datetime.strptime(last, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    return (stamp + timedelta(microseconds=1)).strftime("%Y%m%dT%H%M%S.%fZ")


def _label_window(watch: Watch, report: dict, current, pieces: list[Piece]) -> None:
    """Model quality over the rows of this execution and the previous ``label_window - 1``
    ones that have a label by now: labels arrive later than the rows they are for."""
    from assayml.monitor.checks import Violation
    from assayml.monitor.ground_truth import join_labels, model_quality
    from assayml.monitor.inputs import captured_current
    from assayml.monitor.model_checks import recommendation

    history = read_history(watch.out)
    earlier = history[max(len(history) - (watch.settings.label_window - 1), 0) :]
    old = [Piece(**p) for line in earlier for p in line["files"]]
    old = [p for p in old if (watch.folder / p.name).is_file()]
    window = current
    if old and watch.settings.label_window > 1:
        records, _ = read_pieces(watch.folder, old)
        window = captured_current(records, current.source) if len(records) else current
        if window is not current:
            window = _concat(window, current)
    deployed = watch.deployed
    target = deployed.transform.target
    truth = join_labels(watch.ground_truth, window.ids, len(window.frame), target.name)
    truth.summary["window_executions"] = len(earlier) + 1
    truth.summary["window_rows"] = len(window.frame)
    report["ground_truth"] = truth.summary
    if window.served is None:
        return  # records without outputs.prediction: nothing served to judge
    has = truth.labels.notna().to_numpy() & window.served.notna().to_numpy()
    report["labelled_rows"] = int(has.sum())
    if not has.any():
        return
    task = watch.baseline.statistics["prediction"]["task"]
    served = window.served[has]
    if task == "regression":
        y = truth.labels[has].to_numpy(dtype=np.float64)
        predicted, probabilities = served.to_numpy(dtype=np.float64), None
    else:
        y = deployed.transform.encode_target(truth.labels[has])
        predicted = deployed.transform.encode_target(served)
        columns = [f"probability_{c}" for c in target.classes]
        outputs = window.outputs
        probabilities = None
        if outputs is not None and all(c in outputs.columns for c in columns):
            chosen = outputs.loc[has, columns]
            probabilities = None if chosen.isna().any(axis=None) else chosen.to_numpy(float)
    report["model_quality"], found = model_quality(
        watch.baseline.statistics, task, y, predicted, probabilities, watch.settings
    )
    report["violations"] += [v.to_dict() for v in found]
    kept = [Violation(**v) for v in report["violations"]]
    report["recommendation"] = recommendation(kept)


def _concat(old, new):
    import pandas as pd

    from assayml.monitor.inputs import Current

    def both(a, b):
        return None if a is None or b is None else pd.concat([a, b], ignore_index=True)

    return Current(
        both(old.frame, new.frame),
        both(old.ids, new.ids),
        both(old.served, new.served),
        new.source,
        both(old.outputs, new.outputs),
    )


def history_line(execution: str, report: dict[str, Any], pieces: list[Piece]) -> dict[str, Any]:
    """One execution in brief: what it read, what it found, and its statistics by name
    (the trend plots and the retraining loop read these)."""
    found = report["violations"]
    return finite(
        {
            "execution": execution,
            "time": report["time"],
            "folder": execution,
            "files": [p.to_dict() for p in pieces],
            "rows": report["rows"],
            "valid_rows": report["valid_rows"],
            "rejected_rows": report["rejected_rows"],
            "labelled_rows": report.get("labelled_rows", 0),
            "model": report["model"],
            "baseline": report["baseline"],
            "violations": len(found),
            "checks": sorted({v["constraint_check_type"] for v in found}),
            "recommendation": report["recommendation"]["action"],
            "variants": report.get("variants"),
            "ground_truth": report.get("ground_truth"),
            "statistics": trend_statistics(report),
        }
    )


def trend_statistics(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: {"value", "threshold", "violation"}}``: per feature its drift statistic;
    the prediction drift; each model-quality metric (threshold: the baseline's value)."""
    stats = {}
    for name, drift in report["drift"].items():
        stats[f"drift:{name}"] = {
            "value": drift["statistic"],
            "p_value": drift["p_value"],
            "threshold": drift["threshold"] if drift["p_value"] is None else None,
            "violation": bool(drift["drifted"]),
        }
    if report["prediction_drift"]:
        drift = report["prediction_drift"]
        stats["prediction_drift"] = {
            "value": drift["statistic"],
            "p_value": drift["p_value"],
            "threshold": drift["threshold"] if drift["p_value"] is None else None,
            "violation": bool(drift["drifted"]),
        }
    quality = (report.get("model_quality") or {}).get("metrics") or {}
    for name, metric in quality.items():
        stats[f"quality:{name}"] = {
            "value": metric["current"],
            "threshold": metric["baseline"],
            "violation": bool(metric.get("violation", False)),
        }
    return stats


def write_execution(folder, report, baseline, current, line, history) -> None:
    """The execution's folder, whole or not at all; ``execution.json`` (its history line)
    marks it complete."""
    from assayml.monitor.report_html import render
    from assayml.monitor.trend_html import trends

    history = [*history, line][-baseline.settings.history :]
    page = render(report, baseline.statistics, current.frame, trends(history, line))
    with atomic_outputs() as out:
        out.own_dir(folder)
        out.write_json(folder / "violations.json", {"violations": report["violations"]})
        out.write_json(folder / "monitor.json", finite(report))
        out.write_text(folder / "report.html", page)
        out.write_record(folder / RECORD, line)


def _alert(watch: Watch, report: dict[str, Any], folder: Path, execution: str) -> dict:
    """Send the alert (if one is due) and record its outcome in ``alerts.json``."""
    cfg = watch.settings.alerts
    if not alerts.wanted(cfg, watch.webhook, len(report["violations"])):
        return {"status": "none"}
    body = alerts.payload(report, execution, str(folder / "report.html"))
    outcome = alerts.send(cfg, body, watch.webhook)
    with atomic_outputs() as out:
        out.write_json(folder / "alerts.json", outcome)
    return outcome


def read_history(out: Path) -> list[dict[str, Any]]:
    path = out / HISTORY
    if not path.is_file():
        return []
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError as err:
            raise ArtifactError(f"{path}: line {number} is not JSON ({err})") from None
    return lines


def append_history(out: Path, line: dict[str, Any]) -> None:
    """Add ``line`` to the history: the file is rewritten beside itself and renamed into
    place (under the monitor's lock), so a reader sees the old or the new file, whole."""
    path = out / HISTORY
    old = path.read_bytes() if path.is_file() else b""
    text = json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n"
    with atomic_outputs() as batch:
        batch.write_bytes(path, old + text.encode())


def _records(out: Path) -> list[Path]:
    """Every complete execution's record, oldest first (a writer's temporary folder,
    ``.<pid>-....tmp.<id>``, is not an execution)."""
    found = (r for r in out.glob(f"*/{RECORD}") if ID_PATTERN.fullmatch(r.parent.name))
    return sorted(found)


def recover(watch: Watch, state: dict[str, Any]) -> dict[str, Any]:
    """Roll the history and the state forward over executions whose outputs are in place
    but whose history line or state entry is not (the process died in between)."""
    from assayml.utils.fsops import remove_stale

    for name in {m.group(1) for p in watch.out.glob(".*") if (m := TEMP.fullmatch(p.name))}:
        remove_stale(watch.out, name)  # a killed execution's half-written folder or file
    last = state.get("last_execution") or ""
    done = {line["execution"] for line in read_history(watch.out)}
    for record in _records(watch.out):
        execution = record.parent.name
        if execution <= last:
            continue
        line = json.loads(record.read_text())
        if execution not in done:
            alerts_file = record.parent / "alerts.json"
            if line["violations"] and not alerts_file.exists():
                report = json.loads((record.parent / "monitor.json").read_text())
                line["alerts"] = _alert(watch, report, record.parent, execution)
            append_history(watch.out, line)
        state = mark_read(state, [Piece(**p) for p in line["files"]], execution)
        _save_state(watch.state_file, state)
        watch.notes.append(f"recovered execution {execution} (its state was not saved)")
    return state
