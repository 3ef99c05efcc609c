"""The "uncertainty" part of ``metrics/evaluate.json`` and its plots."""

from __future__ import annotations

from typing import Any

import numpy as np

from assayml.models.inference import Predictions, Sampling
from assayml.uncertainty.metrics import classification_uncertainty, regression_uncertainty
from assayml.uncertainty.plots import uncertainty_plot_data


def uncertainty_report(
    pred: Predictions, y: np.ndarray, sampling: Sampling
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, plot files) for predictions ``pred`` of labels or targets ``y``."""
    method = "ensemble" if sampling.members else "mc_dropout" if sampling.mc_samples else "none"
    head = {"method": method, "samples": int(pred.outputs.shape[0])}
    if pred.task == "regression":
        u = pred.uncertainty
        if not np.any(u["variance"] > 0):
            return head, {}  # one point prediction: no spread to assess
        return head | regression_uncertainty(
            pred.predicted, u["variance"], u["lower"], u["upper"], y, sampling.interval
        ), {}
    u = pred.uncertainty
    metrics = head | {"temperature": sampling.temperature}
    metrics |= classification_uncertainty(pred.probabilities, y, u["predictive_entropy"])
    metrics |= {f"mean_{k}": round(float(np.mean(v)), 6) for k, v in u.items()}
    before = None
    if sampling.temperature != 1.0:
        before = _softmax(pred.outputs).mean(axis=0)  # the same samples, unscaled
        scores = classification_uncertainty(before, y, u["predictive_entropy"])
        metrics["before_temperature"] = {k: scores[k] for k in ("ece", "mce", "nll", "brier")}
    plots = uncertainty_plot_data(
        pred.probabilities, y, u["predictive_entropy"], metrics["accuracy_coverage"], before
    )
    return metrics, plots


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
