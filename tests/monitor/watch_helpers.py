"""Shared by the --watch, alert and ground-truth tests: captured traffic written by the real
CaptureWriter, and a Watch on the credit project."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from assayml.config.monitor_schema import AlertsConfig, MonitorConfig
from assayml.data.credit import generate_credit
from assayml.monitor.executions import Watch
from assayml.monitor.inputs import load_baseline
from assayml.monitor.operations import with_operations
from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import load_deployed, prediction_columns


def capture(
    folder: Path, frame: pd.DataFrame, deployed, rotate: int = 500, served=None, extra=None
):
    """Capture ``frame``'s valid rows as `assay serve` would: the model's outputs (or
    ``served`` predictions in their place); returns (ids, the captured rows)."""
    valid, _ = deployed.validate(frame[deployed.schema["inputs"]].reset_index(drop=True))
    outputs = prediction_columns(deployed, deployed.predict(valid))
    if served is not None:
        outputs["prediction"] = served
    writer = CaptureWriter(folder, max_records=rotate)
    ids = writer.capture(
        json.loads(valid.to_json(orient="records")),
        json.loads(outputs.to_json(orient="records")),
        deployed.lineage_id,
        extra,
    )
    writer.close()
    return ids, frame.loc[valid.index].reset_index(drop=True)


def age(folder: Path, seconds: float = 600) -> None:
    """Make every capture file look closed (unchanged for ``seconds``)."""
    past = time.time() - seconds
    for path in folder.glob("capture-*"):
        os.utime(path, (past, past))


def make_watch(
    project: Path, tmp_path: Path, settle_s: float = 60, alerts: AlertsConfig | None = None, **kw
) -> Watch:
    """A Watch of ``tmp_path/captured`` on the project's model and baseline (run with the
    project as working directory)."""
    os.chdir(project)
    operational = MonitorConfig(settle_s=settle_s, alerts=alerts or AlertsConfig())
    baseline = with_operations(load_baseline("monitoring"), operational)
    folder = tmp_path / "captured"
    folder.mkdir(exist_ok=True)
    return Watch(folder, tmp_path / "out", baseline, load_deployed(), **kw)


def fresh(rows: int, seed: int) -> pd.DataFrame:
    return generate_credit(rows, seed=seed)


def shifted(rows: int, seed: int) -> pd.DataFrame:
    frame = fresh(rows, seed)
    frame["income"] += 0.8 * frame["income"].std()
    return frame


def history(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
