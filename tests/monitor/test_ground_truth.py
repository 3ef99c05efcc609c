"""Ground truth joined to captured predictions by capture id: every model-quality metric
equals scikit-learn's on the served predictions (bootstrap resamples too, as sample
weights), labels that arrive after their rows' execution are counted by a later one, and
the join says how many rows got a label and how many labels matched nothing."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from assayml.errors import DataError
from assayml.monitor.executions import execute
from assayml.monitor.ground_truth import join_labels
from assayml.monitor.quality_metrics import bootstrap_weights, metrics
from tests.monitor.watch_helpers import capture, fresh, make_watch


@pytest.fixture
def back_home():
    home = os.getcwd()
    yield
    os.chdir(home)


def sklearn_metrics(task, y, predicted, probabilities, weight) -> dict[str, float]:
    w = {"sample_weight": weight}
    if task == "regression":
        return {
            "mae": sk.mean_absolute_error(y, predicted, **w),
            "rmse": np.sqrt(sk.mean_squared_error(y, predicted, **w)),
            "r2": sk.r2_score(y, predicted, **w),
        }
    if task == "binary":
        return {
            "accuracy": sk.accuracy_score(y, predicted, **w),
            "f1": sk.f1_score(y, predicted, zero_division=0, **w),
            "precision": sk.precision_score(y, predicted, zero_division=0, **w),
            "recall": sk.recall_score(y, predicted, zero_division=0, **w),
            "auroc": sk.roc_auc_score(y, probabilities[:, 1], **w),
        }
    macro = {"average": "macro", "zero_division": 0, **w}
    return {
        "accuracy": sk.accuracy_score(y, predicted, **w),
        "balanced_accuracy": sk.balanced_accuracy_score(y, predicted, **w),
        "f1": sk.f1_score(y, predicted, **macro),
        "precision": sk.precision_score(y, predicted, **macro),
        "recall": sk.recall_score(y, predicted, **macro),
        "auroc": sk.roc_auc_score(y, probabilities, multi_class="ovr", average="macro", **w),
    }


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_weighted_metrics_equal_scikit_learn(task) -> None:
    rng = np.random.default_rng(5)
    n = 300
    if task == "regression":
        y = rng.normal(50, 10, n)
        predicted, probabilities = y + rng.normal(0, 4, n), None
    else:
        k = 2 if task == "binary" else 3
        y = rng.integers(0, k, n)
        logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
        logits[:40] = np.round(logits[:40])  # tied scores: AUROC counts ties one half
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        predicted = probabilities.argmax(axis=1)
        predicted[:25] = (predicted[:25] + 1) % k  # served classes need not be the argmax
    weights = np.vstack([np.ones(n), bootstrap_weights(n, 20, rng)])
    ours = metrics(task, y, predicted, probabilities, weights)
    for row, weight in enumerate(weights):
        theirs = sklearn_metrics(task, y, predicted, probabilities, weight)
        assert set(ours) == set(theirs)
        for name, value in theirs.items():
            assert ours[name][row] == pytest.approx(value, abs=1e-12), (name, row)


def test_join_counts_and_bad_label_files(tmp_path) -> None:
    ids = pd.Series(["a", "b", "c", "7", "e"])
    labels = pd.DataFrame(
        {"capture_id": ["c", "a", "zz", 7.0, "b"], "repaid": [1.0, 0.0, 1.0, np.nan, 1.0]}
    )  # in any order; one unknown id; a label not there yet (empty); a float id
    labels.to_csv(tmp_path / "labels.csv", index=False)
    truth = join_labels(tmp_path / "labels.csv", ids, 5, "repaid")
    assert truth.labels.tolist()[:3] == [0.0, 1.0, 1.0] and truth.labels[3:].isna().all()
    assert truth.summary == {
        "file": str(tmp_path / "labels.csv"),
        "join": "capture_id",
        "labels": 4,
        "labelled_rows": 3,
        "unlabelled_rows": 2,
        "unmatched_labels": 1,
    }
    pd.DataFrame({"id": ["a", "b", "a"], "label": [1, 0, 1]}).to_csv(tmp_path / "d.csv")
    with pytest.raises(DataError, match=r"d.csv: column 'id' repeats id 'a' \(rows 2, 4\)"):
        join_labels(tmp_path / "d.csv", ids, 5, "repaid")
    pd.DataFrame({"id": ["a", None], "label": [1, 0]}).to_csv(tmp_path / "n.csv", index=False)
    with pytest.raises(DataError, match=r"n\.csv: row 3 has a label but no 'id'"):
        join_labels(tmp_path / "n.csv", ids, 5, "repaid")
    pd.DataFrame({"outcome": [1]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"t\.csv: no 'repaid' \(or 'label'\) column"):
        join_labels(tmp_path / "t.csv", ids, 5, "repaid")


def test_quality_of_served_predictions_and_late_labels(credit_project, tmp_path, back_home):
    """The served model was wrong on a third of the rows: quality is judged on what it
    served (not on a fresh prediction), and labels for the first execution's rows that
    arrive before the second execution are counted there."""
    truth_file = tmp_path / "labels.csv"
    watch = make_watch(credit_project, tmp_path, settle_s=0, ground_truth=str(truth_file))
    frame = fresh(900, 41)
    valid, _ = watch.deployed.validate(frame[watch.deployed.schema["inputs"]])
    model = watch.deployed.predict(valid)
    served = model.predicted.copy()
    served[::3] = 1 - served[::3]
    ids, rows = capture(watch.folder, frame, watch.deployed, served=served)
    y = rows["repaid"].to_numpy()
    pd.DataFrame({"capture_id": [], "repaid": []}).to_csv(truth_file, index=False)
    first = execute(watch)
    assert first["labelled_rows"] == 0 and first["ground_truth"]["labels"] == 0
    late = pd.DataFrame({"capture_id": ids, "repaid": y.astype(float)}).iloc[:600]
    extra = pd.DataFrame({"capture_id": ["nobody-1", "nobody-2"], "repaid": [1.0, 0.0]})
    pd.concat([late.sample(frac=1, random_state=1), extra]).to_csv(truth_file, index=False)
    capture(watch.folder, fresh(300, 42), watch.deployed)
    second = execute(watch)
    summary = second["ground_truth"]
    assert summary["window_executions"] == 2 and summary["window_rows"] == 1200
    assert summary["labelled_rows"] == 600 and summary["unmatched_labels"] == 2
    assert second["labelled_rows"] == 600
    report = json.loads((watch.out / second["execution"] / "monitor.json").read_text())
    quality = report["model_quality"]["metrics"]
    p1 = model.probabilities[:600, 1]
    expected = sklearn_metrics("binary", y[:600], served[:600], model.probabilities[:600], None)
    for name, value in expected.items():
        assert quality[name]["current"] == pytest.approx(value, abs=1e-6), name
        low, high = quality[name]["ci95"]
        assert low <= quality[name]["current"] <= high
    assert quality["auroc"]["current"] == pytest.approx(sk.roc_auc_score(y[:600], p1), abs=1e-6)
    recomputed = sk.accuracy_score(y[:600], model.predicted[:600])
    assert abs(quality["accuracy"]["current"] - recomputed) > 0.1  # served, not recomputed
    assert quality["accuracy"]["violation"] and "model_quality_check" in second["checks"]
    assert second["recommendation"] == "retrain"
    assert second["statistics"]["quality:accuracy"]["value"] == quality["accuracy"]["current"]
