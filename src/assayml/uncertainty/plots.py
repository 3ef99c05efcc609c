"""Uncertainty plots: data files DVC renders and matching PNGs.

* ``reliability.json``: per confidence bin, mean confidence and accuracy, before and after
  temperature scaling (x: confidence, y: accuracy)
* ``uncertainty.json``: each row's predictive entropy and whether it was predicted right
* ``coverage.json``: the accuracy-coverage curve of selective prediction
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assayml.uncertainty.metrics import BINS
from assayml.utils.figures import png


def reliability_bins(probabilities: np.ndarray, y: np.ndarray, label: str) -> list[dict]:
    """Equal-width top-label confidence bins (empty bins left out)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, BINS + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, BINS - 1)
    rows = []
    for b in range(BINS):
        inside = index == b
        if inside.any():
            rows.append({"confidence": round(float(confidence[inside].mean()), 6),
                         "accuracy": round(float(correct[inside].mean()), 6),
                         "count": int(inside.sum()), "calibration": label})  # fmt: skip
    return rows


def uncertainty_plot_data(
    probabilities: np.ndarray,
    y: np.ndarray,
    entropy: np.ndarray,
    coverage: list[dict[str, float]],
    before: np.ndarray | None,
) -> dict[str, Any]:
    """The JSON plot files, by name; ``before`` holds the probabilities before temperature
    scaling, when it was applied."""
    reliability = reliability_bins(probabilities, y, "after" if before is not None else "model")
    if before is not None:
        reliability = reliability_bins(before, y, "before") + reliability
    from assayml.evaluate.plots import plot_rows

    correct = probabilities.argmax(axis=1) == y
    keep = plot_rows(len(y))  # one record a row: past PLOT_ROWS, the seeded sample
    rows = [{"predictive_entropy": round(float(e), 6), "correct": bool(c)}
            for e, c in zip(entropy[keep], correct[keep], strict=True)]  # fmt: skip
    return {
        "reliability.json": {"reliability": reliability},
        "uncertainty.json": {"uncertainty": rows},
        "coverage.json": {"coverage": coverage},
    }


def uncertainty_pngs(data: dict[str, Any]) -> dict[str, bytes]:
    from matplotlib.figure import Figure

    pngs = {}
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    rows = data["reliability.json"]["reliability"]
    for label in dict.fromkeys(r["calibration"] for r in rows):
        points = [r for r in rows if r["calibration"] == label]
        ax.plot(
            [r["confidence"] for r in points],
            [r["accuracy"] for r in points],
            marker="o",
            label=label,
        )
    ax.set(
        xlabel="confidence (top label)",
        ylabel="accuracy",
        title="Reliability",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(fontsize=8)
    pngs["reliability.png"] = png(fig)

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    rows = data["uncertainty.json"]["uncertainty"]
    for flag, name in ((True, "correct"), (False, "incorrect")):
        values = [r["predictive_entropy"] for r in rows if r["correct"] is flag]
        if values:
            ax.hist(values, bins=20, alpha=0.6, label=f"{name} ({len(values)})")
    ax.set(xlabel="predictive entropy (nats)", ylabel="rows", title="Uncertainty")
    ax.legend(fontsize=8)
    pngs["uncertainty_hist.png"] = png(fig)

    fig = Figure(figsize=(4.5, 3.5))
    ax = fig.subplots()
    points = data["coverage.json"]["coverage"]
    ax.plot([p["coverage"] for p in points], [p["accuracy"] for p in points], marker="o")
    ax.set(
        xlabel="coverage (most confident fraction)", ylabel="accuracy", title="Accuracy vs coverage"
    )
    pngs["coverage.png"] = png(fig)
    return pngs
