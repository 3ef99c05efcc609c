"""Monitoring a Parquet file column by column (and row batch by row batch) gives the same
report as reading it whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assayml.data.credit import generate_credit
from assayml.monitor import large
from assayml.monitor.inputs import load_baseline, read_current
from assayml.monitor.large import ParquetColumns
from assayml.monitor.run import monitor, write_outputs
from assayml.serve.deployed import load_deployed


def test_large_parquet_monitoring_equals_the_in_memory_report(
    credit_project: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(credit_project)
    monkeypatch.setattr(large, "BATCH_ROWS", 300)
    frame = generate_credit(2000, seed=11, bias=0.3)
    frame["income"] *= 1.4  # drift
    frame.loc[17, "age"] = 5  # outside the schema: a rejected row
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    path = tmp_path / "current.parquet"
    frame.to_parquet(path, index=False, row_group_size=500)
    baseline, deployed = load_baseline("monitoring"), load_deployed()
    whole = read_current(path)
    columns = read_current(path, in_memory_rows=1000)
    assert isinstance(columns.frame, ParquetColumns) and "id" not in columns.frame.columns
    assert columns.ids.tolist() == whole.ids.tolist()
    reports = [monitor(c, baseline, deployed) for c in (whole, columns)]
    assert {**reports[0], "time": None} == {**reports[1], "time": None}
    found = {(v["feature_name"], v["constraint_check_type"]) for v in reports[1]["violations"]}
    assert ("income", "baseline_drift_check") in found
    assert reports[1]["rejected_rows"] == 1 and reports[1]["bias_drift"]
    assert reports[1]["attribution_drift"]["rows"] > 0
    write_outputs(reports[1], baseline, columns, tmp_path / "out")
    assert np.all([(tmp_path / "out" / f).is_file() for f in ("report.html", "monitor.json")])
