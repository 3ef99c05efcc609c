"""`assay predict`: through the saved transform (the same numbers as evaluation), rejects
with reasons or exit 2, uncertainty columns; and the capture writer on its own."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.data.credit import generate_credit
from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import load_deployed
from tests import cli_fork
from tests.conftest import cli_env
from tests.stages.helpers import run_stages

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, check=False
    )


def test_predict_matches_the_model_and_rejects_bad_rows(credit_project, tmp_path) -> None:
    frame = generate_credit(200, seed=3).drop(columns="repaid")
    frame.loc[7, "age"] = 150
    frame.loc[9, "purpose"] = "yacht"
    frame.to_csv(tmp_path / "new.csv", index=False)
    result = assay(credit_project, "predict", str(tmp_path / "new.csv"), str(tmp_path / "p.csv"))
    assert result.returncode == 0, result.stderr
    assert "predicted 198 rows" in result.stdout and "2 rejected" in result.stdout
    out = pd.read_csv(tmp_path / "p.csv")
    head = [*frame.columns, "prediction", "probability_0", "probability_1"]
    assert list(out.columns[: len(head)]) == head
    assert (out["mutual_information"].abs() < 1e-9).all()  # one deterministic net
    assert np.allclose(out["probability_0"] + out["probability_1"], 1)
    rejects = pd.read_csv(tmp_path / "p.csv.rejects.csv")
    reasons = dict(zip(rejects["age"], rejects["reject_reason"], strict=True))
    assert "age: less_than_or_equal_to(80.0) (150)" in reasons[150]
    assert "purpose" in rejects.loc[rejects["purpose"] == "yacht", "reject_reason"].item()
    # The same numbers as the model's own predict on the valid rows.
    valid = frame.drop(index=[7, 9]).reset_index(drop=True)
    expected = load_deployed(str(credit_project / "models")).predict(valid)
    assert np.allclose(out["probability_1"], expected.probabilities[:, 1], atol=1e-6)


@pytest.mark.slow
def test_on_invalid_fail_exits_2_and_writes_nothing(credit_project, tmp_path) -> None:
    frame = generate_credit(20, seed=3).drop(columns="repaid")
    frame.loc[4, "late_payments"] = -1
    frame.to_parquet(tmp_path / "new.parquet")
    result = assay(
        credit_project,
        "predict",
        str(tmp_path / "new.parquet"),
        str(tmp_path / "p.parquet"),
        "--on-invalid",
        "fail",
    )
    assert result.returncode == 2
    assert "1 rows fail the model's schema (row 4: late_payments" in result.stderr
    assert not (tmp_path / "p.parquet").exists()
    missing = assay(credit_project, "predict", str(tmp_path / "nope.csv"), "p.csv")
    assert missing.returncode == 2 and "nope.csv: input file not found" in missing.stderr


def test_predict_capture_then_parquet_capture(credit_project, tmp_path) -> None:
    generate_credit(30, seed=4).to_csv(tmp_path / "new.csv", index=False)
    result = assay(
        credit_project,
        "predict",
        str(tmp_path / "new.csv"),
        str(tmp_path / "p.csv"),
        "--capture",
        str(tmp_path / "cap"),
        "--capture-format",
        "parquet",
    )
    assert result.returncode == 0, result.stderr
    captured = pd.concat(pd.read_parquet(p) for p in (tmp_path / "cap").glob("*.parquet"))
    assert len(captured) == 30 and "inputs.income" in captured and "outputs.prediction" in captured
    assert "inputs.repaid" not in captured  # inputs are the model's inputs only
    # the output names each row's capture record, for labels sent back later
    out = pd.read_csv(tmp_path / "p.csv")
    assert sorted(out["capture_id"]) == sorted(captured["id"])
    joined = out.merge(captured, left_on="capture_id", right_on="id")
    assert len(joined) == 30
    assert np.allclose(joined["income"], joined["inputs.income"], equal_nan=True)


def test_uncertainty_columns_from_an_mc_dropout_model(make_cfg, project, tmp_path) -> None:
    run_stages(make_cfg("uncertainty=mc_dropout", "uncertainty.samples=8"))
    rows = pd.read_parquet(project / "data" / "prepared" / "test.parquet").head(10)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = assay(project, "predict", str(tmp_path / "rows.csv"), str(tmp_path / "p.csv"))
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(tmp_path / "p.csv")
    assert {"predictive_entropy", "mutual_information"} <= set(out.columns)
    assert (out["predictive_entropy"] >= out["mutual_information"] - 1e-9).all()
    assert (out["mutual_information"] > 0).any()  # dropout samples disagree


def test_capture_under_threads_keeps_every_record(tmp_path) -> None:
    writer = CaptureWriter(tmp_path, max_records=37, flush_every=5)

    def work(k: int) -> None:
        for i in range(50):
            writer.capture([{"k": k, "i": i}], [{"prediction": i}], "m")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = [json.loads(x) for f in tmp_path.glob("*.jsonl") for x in f.read_text().splitlines()]
    assert len(lines) == 400 == writer.captured
    assert {(r["inputs"]["k"], r["inputs"]["i"]) for r in lines} == {
        (k, i) for k in range(8) for i in range(50)
    }
    assert max(len(f.read_text().splitlines()) for f in tmp_path.glob("*.jsonl")) <= 37


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_capture_sampling_rate(tmp_path, rate) -> None:
    writer = CaptureWriter(tmp_path, sample_rate=rate, seed=1)
    ids = writer.capture([{"i": i} for i in range(2000)], [{}] * 2000, "m")
    writer.close()
    kept = sum(i is not None for i in ids)
    assert kept == writer.captured and abs(kept / 2000 - rate) < 0.04
    with pytest.raises(ValueError, match="sample rate"):
        CaptureWriter(tmp_path, sample_rate=1.5)
