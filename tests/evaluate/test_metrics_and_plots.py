"""Metrics equal scikit-learn's on fixed inputs; plot files render with `dvc plots show`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from assayml.evaluate.metrics import compute_metrics
from assayml.evaluate.plots import plot_data, plot_pngs
from assayml.models.inference import Predictions
from tests.repo_helpers import run

RNG = np.random.default_rng(0)


def classification(k: int, n: int = 200) -> tuple[Predictions, np.ndarray]:
    y = RNG.integers(0, k, size=n)
    logits = RNG.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = (probs[:, 1] >= 0.5).astype(int) if k == 2 else probs.argmax(axis=1)
    return Predictions("binary" if k == 2 else "multiclass", predicted, probs, logits), y


def test_binary_metrics_equal_scikit_learn() -> None:
    pred, y = classification(2)
    m = compute_metrics(pred, y)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred.predicted), abs=1e-6)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred.predicted), abs=1e-6)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred.predicted), abs=1e-6)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred.predicted), abs=1e-6)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, pred.probabilities[:, 1]), abs=1e-6)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred.predicted).tolist()


def test_multiclass_metrics_equal_scikit_learn() -> None:
    pred, y = classification(4)
    m = compute_metrics(pred, y)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred.predicted), abs=1e-6)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred.predicted, average="macro"), abs=1e-6)
    assert m["auroc"] == pytest.approx(
        skm.roc_auc_score(y, pred.probabilities, multi_class="ovr", average="macro"), abs=1e-6
    )
    assert m["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(y, pred.predicted), abs=1e-6
    )


def test_regression_metrics_equal_scikit_learn() -> None:
    y = RNG.normal(100, 20, size=100)
    predicted = y + RNG.normal(0, 5, size=100)
    m = compute_metrics(Predictions("regression", predicted, None, predicted), y)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted), abs=1e-6)
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(y, predicted), abs=1e-6)
    assert m["r2"] == pytest.approx(skm.r2_score(y, predicted), abs=1e-6)


def test_auroc_is_null_when_one_class_is_present() -> None:
    pred, y = classification(2)
    keep = y == 1
    one = Predictions("binary", pred.predicted[keep], pred.probabilities[keep], pred.outputs[keep])
    assert compute_metrics(one, y[keep])["auroc"] is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_dvc_plots_show_renders_our_plot_files(tmp_path: Path) -> None:
    pred, y = classification(2)
    folder = tmp_path / "plots" / "evaluate"
    folder.mkdir(parents=True)
    data = plot_data(pred, y, ["no", "yes"])
    for name, content in data.items():
        (folder / name).write_text(json.dumps(content))
    pngs = plot_pngs(data, ["no", "yes"], compute_metrics(pred, y)["confusion_matrix"])
    assert all(blob.startswith(b"\x89PNG") for blob in pngs.values())
    run(tmp_path, sys.executable, "-m", "dvc", "init", "--no-scm", "-q")
    shown = run(
        tmp_path,
        sys.executable,
        "-m",
        "dvc",
        "plots",
        "show",
        "--json",
        "plots/evaluate/roc.json",
        "-x",
        "fpr",
        "-y",
        "tpr",
    )
    assert "plots/evaluate/roc.json" in shown and "errors" not in json.loads(shown)
    shown = run(
        tmp_path,
        sys.executable,
        "-m",
        "dvc",
        "plots",
        "show",
        "--json",
        "plots/evaluate/confusion.json",
        "-t",
        "confusion",
        "-x",
        "actual",
        "-y",
        "predicted",
    )
    assert "confusion" in shown and "errors" not in json.loads(shown)


def test_plot_files_stay_small_for_large_evaluation_sets() -> None:
    from assayml.evaluate.plots import CURVE_POINTS, PLOT_ROWS

    pred, y = classification(2, n=3 * PLOT_ROWS)
    data = plot_data(pred, y, [0, 1])
    confusion = data["confusion.json"]["confusion"]
    assert len(confusion) == PLOT_ROWS
    ones = sum(r["actual"] == "1" for r in confusion) / PLOT_ROWS
    assert abs(ones - float(np.mean(y))) < 0.02  # a uniform sample of the rows
    roc = data["roc.json"]["roc"]
    assert len(roc) <= CURVE_POINTS
    assert (roc[0]["fpr"], roc[-1]["fpr"], roc[-1]["tpr"]) == (0.0, 1.0, 1.0)
    small, y_small = classification(2)
    assert len(plot_data(small, y_small, [0, 1])["confusion.json"]["confusion"]) == len(y_small)
