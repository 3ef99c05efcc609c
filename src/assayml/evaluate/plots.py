"""Evaluation plots: data files DVC renders (``dvc plots show``) and matching PNGs.

* ``roc.json``: ``{"roc": [{"fpr", "tpr", "threshold"[, "class"]}]}`` (x: fpr, y: tpr)
* ``confusion.json``: ``{"confusion": [{"actual", "predicted"}]}`` (DVC's confusion template)
* ``residuals.json``: ``{"residuals": [{"actual", "predicted", "residual"}]}`` (regression)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import functional as tmf

from assayml.models.inference import Predictions
from assayml.utils.figures import png

PLOT_ROWS = 20_000  # per-row plot records (confusion, residuals) beyond which: a sample
CURVE_POINTS = 1_000


def plot_data(pred: Predictions, y: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """The JSON plot files, by file name. DVC's confusion and residual templates take one
    record a row: past ``PLOT_ROWS`` rows they get a seeded sample of rows (the exact
    confusion matrix is in evaluate.json), and a ROC curve keeps at most ``CURVE_POINTS``."""
    rows = plot_rows(len(y))
    if pred.task == "regression":
        return {"residuals.json": {"residuals": _residuals(pred.predicted[rows], y[rows])}}
    labels = [str(c) for c in classes]
    confusion = [
        {"actual": labels[int(a)], "predicted": labels[int(p)]}
        for a, p in zip(y[rows], pred.predicted[rows], strict=True)
    ]
    return {"roc.json": {"roc": _roc(pred, y, labels)}, "confusion.json": {"confusion": confusion}}


def plot_pngs(
    data: dict[str, Any], classes: list[Any], matrix: list[list[int]] | None
) -> dict[str, bytes]:
    """PNG renderings of the plot files ``data`` (from :func:`plot_data`), by file name."""
    if "residuals.json" in data:
        return {"residuals.png": _residual_png(data["residuals.json"]["residuals"])}
    return {
        "roc.png": _roc_png(data["roc.json"]["roc"]),
        "confusion.png": _confusion_png(np.asarray(matrix), [str(c) for c in classes]),
    }


def _roc(pred: Predictions, y: np.ndarray, labels: list[str]) -> list[dict[str, Any]]:
    probs = torch.from_numpy(pred.probabilities)
    target = torch.tensor(np.asarray(y, dtype=np.int64))
    if torch.unique(target).numel() < 2:
        return []
    if pred.task == "binary":
        fpr, tpr, thresholds = tmf.classification.binary_roc(probs[:, 1], target)
        return _points(fpr, tpr, thresholds)
    fprs, tprs, thresholds = tmf.classification.multiclass_roc(probs, target, len(labels))
    rows = []
    for k, label in enumerate(labels):
        rows += [{**p, "class": label} for p in _points(fprs[k], tprs[k], thresholds[k])]
    return rows


def plot_rows(n: int) -> np.ndarray:
    """Every row, or a seeded sample of ``PLOT_ROWS`` in row order."""
    if n <= PLOT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, PLOT_ROWS, replace=False))


def _points(fpr, tpr, thresholds) -> list[dict[str, float]]:
    keep = np.arange(len(fpr))
    if len(keep) > CURVE_POINTS:  # evenly spaced along the curve, both ends kept
        keep = np.unique(np.linspace(0, len(fpr) - 1, CURVE_POINTS).round().astype(int))
    return [
        {
            "fpr": round(float(fpr[i]), 6),
            "tpr": round(float(tpr[i]), 6),
            "threshold": round(float(thresholds[i]), 6),
        }
        for i in keep
    ]


def _residuals(predicted: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    return [
        {
            "actual": round(float(a), 6),
            "predicted": round(float(p), 6),
            "residual": round(float(a - p), 6),
        }
        for a, p in zip(y, predicted, strict=True)
    ]


def _roc_png(rows: list[dict[str, Any]]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    groups = sorted({r.get("class", "") for r in rows})
    for group in groups:
        points = [r for r in rows if r.get("class", "") == group]
        ax.plot([r["fpr"] for r in points], [r["tpr"] for r in points], label=group or None)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    if len(groups) > 1:
        ax.legend(fontsize=7, title="class")
    return png(fig)


def _confusion_png(matrix: np.ndarray, labels: list[str]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color=colour)
    ax.set(
        xticks=range(len(labels)),
        yticks=range(len(labels)),
        xticklabels=labels,
        yticklabels=labels,
        xlabel="predicted",
        ylabel="actual",
        title="Confusion matrix",
    )
    return png(fig, left_chars=max(map(len, labels), default=1))


def _residual_png(rows: list[dict[str, float]]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.scatter([r["predicted"] for r in rows], [r["residual"] for r in rows], s=10, alpha=0.7)
    ax.axhline(0, color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals")
    return png(fig)
