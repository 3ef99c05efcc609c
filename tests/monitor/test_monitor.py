"""`assay baseline` and `assay monitor` on a trained credit model: fresh data raises nothing;
each kind of change raises its own violation; bad input exits 2 naming what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.data.credit import generate_credit
from assayml.monitor.inputs import load_baseline, read_current
from assayml.monitor.run import monitor
from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import load_deployed
from tests import cli_fork
from tests.conftest import cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


def fresh(rows: int = 1000, seed: int = 11) -> pd.DataFrame:
    """New rows from the training distribution (another draw of the generator)."""
    return generate_credit(rows, seed=seed)


def run_monitor(project: Path, tmp_path: Path, frame: pd.DataFrame, *extra: str):
    data = tmp_path / "current.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "monitor"
    result = cli_fork.run(
        [*ASSAY, "monitor", str(data), "--out", str(out), *extra],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    report = json.loads((out / "monitor.json").read_text()) if out.is_dir() else None
    return result, report


def checks_of(report: dict) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]}


def monitor_frame(project: Path, frame: pd.DataFrame, monkeypatch, labels=None) -> dict:
    monkeypatch.chdir(project)
    current = read_current_frame(frame)
    return monitor(current, load_baseline("monitoring"), load_deployed(), labels)


def read_current_frame(frame: pd.DataFrame):
    from assayml.monitor.inputs import Current

    return Current(frame.reset_index(drop=True), None, None, "test")


def test_baseline_files_follow_model_monitor(credit_project: Path) -> None:
    stats = json.loads((credit_project / "monitoring" / "statistics.json").read_text())
    constraints = json.loads((credit_project / "monitoring" / "constraints.json").read_text())
    features = {f["name"]: f for f in stats["features"]}
    assert "repaid" not in features and {"age", "income", "purpose", "group"} <= set(features)
    income = features["income"]
    assert income["inferred_type"] == "Fractional"
    numeric = income["numerical_statistics"]
    assert numeric["common"]["num_missing"] > 0  # the generator blanks 2 % of incomes
    assert numeric["min"] <= numeric["distribution"]["quantiles"]["0.5"] <= numeric["max"]
    histogram = numeric["distribution"]["histogram"]
    assert sum(histogram["counts"]) == numeric["common"]["num_present"]
    assert features["age"]["inferred_type"] == "Integral"
    buckets = features["purpose"]["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert {b["value"] for b in buckets} == {"car", "home", "education", "business", "other"}
    assert set(stats["prediction"]["distribution"]["counts"]) <= {"0", "1"}
    assert 0.5 < stats["model_quality"]["accuracy"] <= 1
    ranking = stats["attributions"]["ranking"]
    assert len(ranking) == len(features) and ranking[0]["mean_abs_shap"] > 0
    rules = {c["name"]: c for c in constraints["features"]}
    assert rules["income"]["completeness"] < 1 and rules["age"]["completeness"] == 1
    assert rules["income"]["drift"] == {"test": "ks", "min_effect": 0.1}
    assert rules["purpose"]["drift"]["test"] == "chi2"
    assert rules["employment"]["string_constraints"]["domains"][0] == "employed"
    assert rules["age"]["range"]["min"] == 18 and rules["age"]["range"]["max"] == 80
    assert constraints["monitoring_config"]["alpha"] == 0.05
    assert constraints["bias"]["facets"] == {"group": "A"}


@pytest.mark.slow
def test_fresh_data_raises_no_violation(credit_project: Path, tmp_path: Path) -> None:
    result, report = run_monitor(credit_project, tmp_path, fresh())
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["violations"] == [] and report["recommendation"]["action"] == "none"
    assert json.loads((tmp_path / "monitor" / "violations.json").read_text()) == {"violations": []}
    assert not any(r["drifted"] for r in report["drift"].values())
    assert report["prediction_drift"]["drifted"] is False
    quality = report["model_quality"]  # labels: the target column of the file
    low, high = quality["spread"]["ci95"]
    assert quality["rows"] == 1000 and low <= quality["current"] <= high
    assert report["attribution_drift"]["ndcg"] >= 0.9
    bias = report["bias_drift"]["group=B.DPPL"]
    assert bias["ci95"][0] <= bias["value"] <= bias["ci95"][1] and bias["status"] != "violation"
    assert (tmp_path / "monitor" / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_each_data_change_raises_its_own_violation(credit_project: Path, tmp_path) -> None:
    frame = fresh()
    frame["income"] += 0.5 * frame["income"].std()  # half a standard deviation
    frame.loc[:49, "employment"] = "gig"  # unseen category
    frame.loc[100:399, "credit_history_years"] = np.nan  # completeness 70 %
    frame.loc[500, "late_payments"] = -3  # outside the schema's range
    frame["zip"] = "12345"
    result, report = run_monitor(credit_project, tmp_path, frame)
    assert result.returncode == 3
    assert checks_of(report) == {
        ("income", "baseline_drift_check"),
        ("employment", "categorical_values_check"),
        ("credit_history_years", "completeness_check"),
        ("late_payments", "out_of_range_check"),
        ("zip", "extra_column_check"),
    }
    assert report["rejected_rows"] == 351  # unseen category, missing value, negative count
    assert report["recommendation"]["action"] == "retrain"
    assert "income: baseline_drift_check" in result.stdout
    written = json.loads((tmp_path / "monitor" / "violations.json").read_text())
    assert written["violations"] == report["violations"]


def test_missing_column_skips_the_model_checks(credit_project, tmp_path) -> None:
    result, report = run_monitor(credit_project, tmp_path, fresh().drop(columns="loan_amount"))
    assert result.returncode == 3
    assert checks_of(report) == {("loan_amount", "missing_column_check")}
    assert report["prediction_drift"] is None and report["model_quality"] is None
    assert report["recommendation"]["action"] == "investigate"


def test_wrong_labels_and_skewed_predictions(credit_project, tmp_path, monkeypatch) -> None:
    frame = fresh()
    flipped = 1 - frame["repaid"]
    report = monitor_frame(credit_project, frame, monkeypatch, flipped)
    assert ("model", "model_quality_check") in checks_of(report)
    quality = report["model_quality"]
    assert quality["spread"]["ci95"][1] < quality["baseline"]
    predicted = load_deployed().predict(frame).predicted
    skewed = frame[predicted == 1].drop(columns="repaid")  # only approvals, no labels
    report = monitor_frame(credit_project, skewed, monkeypatch)
    assert ("prediction", "prediction_drift_check") in checks_of(report)
    assert report["model_quality"] is None  # no labels: no quality check


def test_attribution_drift_when_the_top_columns_stop_varying(credit_project, monkeypatch):
    frame = fresh()
    monkeypatch.chdir(credit_project)
    stats = load_baseline("monitoring").statistics
    numeric = {f["name"]: f for f in stats["features"] if f["inferred_type"] != "String"}
    ranked = [r["column"] for r in stats["attributions"]["ranking"]]
    top = [c for c in ranked if c in numeric][:3]
    for column in top:  # at the background (the training mean): no attribution left
        frame[column] = numeric[column]["numerical_statistics"]["mean"]
    report = monitor_frame(credit_project, frame, monkeypatch)
    drift = report["attribution_drift"]
    assert drift["ndcg"] < 0.9 and not set(top) & set(drift["current_top"][:3])
    assert ("attributions", "feature_attribution_drift_check") in checks_of(report)


@pytest.mark.slow
def test_bias_drift_in_captured_predictions(credit_project, tmp_path, monkeypatch) -> None:
    """The served model turned against group B: captured predictions carry the gap, and the
    bootstrap interval of DPPL leaves its allowed range."""
    frame = fresh(1200)
    monkeypatch.chdir(credit_project)
    deployed = load_deployed()
    inputs = json.loads(frame[deployed.schema["inputs"]].to_json(orient="records"))
    outputs = [{"prediction": 0 if row["group"] == "B" else 1} for row in inputs]
    writer = CaptureWriter(tmp_path / "captured", max_records=500)
    ids = writer.capture(inputs, outputs, deployed.lineage_id)
    writer.close()
    assert len(list((tmp_path / "captured").glob("capture-*.jsonl"))) == 3  # rotated
    labels = pd.DataFrame({"capture_id": ids, "repaid": frame["repaid"]}).sample(
        frac=0.7, random_state=0
    )  # labels arrive for some rows, in any order
    labels.to_csv(tmp_path / "labels.csv", index=False)
    result = cli_fork.run(
        [
            *ASSAY,
            "monitor",
            str(tmp_path / "captured"),
            "--labels",
            str(tmp_path / "labels.csv"),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=credit_project,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3, result.stderr
    report = json.loads((tmp_path / "out" / "monitor.json").read_text())
    assert report["rows"] == 1200 and report["labelled_rows"] == 840
    dppl = report["bias_drift"]["group=B.DPPL"]
    assert dppl["value"] == pytest.approx(1.0) and dppl["status"] == "violation"
    assert ("group=B", "bias_drift_check") in checks_of(report)


def test_edited_constraints_change_the_test(credit_project, tmp_path, monkeypatch) -> None:
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    for name in ("statistics.json", "constraints.json", "reference.npz"):
        (baseline / name).write_bytes((credit_project / "monitoring" / name).read_bytes())
    constraints = json.loads((baseline / "constraints.json").read_text())
    income = next(c for c in constraints["features"] if c["name"] == "income")
    income["drift"] = {"test": "wasserstein", "threshold": 0.6}
    (baseline / "constraints.json").write_text(json.dumps(constraints))
    frame = fresh()
    frame["income"] += 0.5 * frame["income"].std()
    monkeypatch.chdir(credit_project)
    report = monitor(read_current_frame(frame), load_baseline(baseline), load_deployed())
    assert report["drift"]["income"]["test"] == "wasserstein"
    assert 0.4 < report["drift"]["income"]["statistic"] < 0.6  # in sd: below the new bar
    assert ("income", "baseline_drift_check") not in checks_of(report)
    income["drift"] = {"test": "chi2"}
    (baseline / "constraints.json").write_text(json.dumps(constraints))
    result = cli_fork.run(
        [*ASSAY, "monitor", "x.csv", "--baseline", str(baseline)],
        cwd=credit_project,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "constraints.json: feature 'income': drift.test must be one of ks" in result.stderr


@pytest.mark.slow
def test_bad_inputs_exit_2_naming_what_is_wrong(credit_project, tmp_path) -> None:
    def assay(*args: str) -> subprocess.CompletedProcess:
        return cli_fork.run(
            [*ASSAY, "monitor", *args, "--out", str(tmp_path / "out")],
            cwd=credit_project,
            env=cli_env(),
            capture_output=True,
            text=True,
        )

    data = tmp_path / "current.csv"
    fresh(50).to_csv(data, index=False)
    no_baseline = assay(str(data), "--baseline", str(tmp_path / "nowhere"))
    assert no_baseline.returncode == 2 and "run `assay baseline`" in no_baseline.stderr
    pd.DataFrame({"repaid": [1, 0]}).to_csv(tmp_path / "labels.csv", index=False)
    short = assay(str(data), "--labels", str(tmp_path / "labels.csv"))
    assert short.returncode == 2 and "2 labels for 50 rows" in short.stderr
    torn = tmp_path / "captured"
    torn.mkdir()
    (torn / "capture-a.jsonl").write_text('{"id": "1", "inputs": {}}\n{"id": "2", "inp\n')
    broken = assay(str(torn))
    assert (
        broken.returncode == 2 and "capture-a.jsonl: line 2 is not a JSON record" in broken.stderr
    )
    assert not (tmp_path / "out").exists()  # nothing written on bad input


def test_fresh_samples_rarely_alarm(credit_project, monkeypatch) -> None:
    """The whole monitor, not one test: over 20 fresh samples of 300 rows, feature drift
    fires in at most 2 (alpha 5 % across the features, at most 1 expected)."""
    monkeypatch.chdir(credit_project)
    baseline = load_baseline("monitoring")
    from assayml.monitor import checks

    alarms = 0
    for seed in range(100, 120):
        frame = fresh(300, seed)
        drift = checks.feature_drift(
            frame, baseline.statistics, baseline.rules, baseline.references, baseline.settings
        )
        alarms += any(r["drifted"] for r in drift.values())
    assert alarms <= 2


def test_read_current_takes_an_id_column(tmp_path) -> None:
    frame = fresh(5).assign(id=list("abcde"))
    frame.to_parquet(tmp_path / "rows.parquet")
    current = read_current(tmp_path / "rows.parquet")
    assert "id" not in current.frame.columns and list(current.ids) == list("abcde")


@pytest.mark.slow
def test_overrides_change_the_settings_for_one_run(credit_project, tmp_path) -> None:
    frame = fresh(300)
    frame["income"] += 0.5 * frame["income"].std()
    result, report = run_monitor(
        credit_project,
        tmp_path,
        frame,
        "monitor.numeric_test=wasserstein",
        "monitor.wasserstein_threshold=0.3",
        "monitor.bootstrap=20",
    )
    assert result.returncode == 3, result.stderr
    assert {r["test"] for n, r in report["drift"].items() if n != "purpose"} >= {"wasserstein"}
    assert report["settings"]["bootstrap"] == 20
    assert ("income", "baseline_drift_check") in checks_of(report)
    bad, _ = run_monitor(credit_project, tmp_path, frame, "monitor.correction=holm")
    assert bad.returncode == 2 and "monitor.correction must be bh, bonferroni or none" in bad.stderr
    typo, _ = run_monitor(credit_project, tmp_path, frame, "monitor.alpah=0.1")
    assert typo.returncode == 2 and "override 'monitor.alpah=0.1'" in typo.stderr
