"""Calibration and selective-prediction metrics (``metrics/evaluate.json`` "uncertainty").

Classification: ECE and MCE (15 equal-width bins over the top-label confidence, as
torchmetrics computes them), NLL, multiclass Brier score, AURC (area under the risk-coverage
curve, confidence-ranked) with the accuracy-coverage curve, and the AUROC of the uncertainty
score (predictive entropy) for telling misclassified rows from correct ones. Regression:
Gaussian NLL and the empirical coverage of the central interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import functional as tmf

BINS = 15
COVERAGES = tuple(round(0.1 * i, 1) for i in range(1, 11))  # points of the curve


def classification_uncertainty(
    probabilities: np.ndarray, y: np.ndarray, score: np.ndarray
) -> dict[str, Any]:
    """Metrics of mean probabilities [rows, classes] against labels [rows]; ``score`` [rows]
    is the uncertainty (higher = less sure) used for misclassification detection."""
    probs = torch.as_tensor(probabilities, dtype=torch.float64)
    target = torch.as_tensor(y, dtype=torch.int64)
    classes = probs.shape[1]
    correct = probabilities.argmax(axis=1) == y
    return {
        "ece": _round(tmf.classification.multiclass_calibration_error(
            probs, target, classes, n_bins=BINS, norm="l1")),
        "mce": _round(tmf.classification.multiclass_calibration_error(
            probs, target, classes, n_bins=BINS, norm="max")),
        "nll": _round(nll(probabilities, y)),
        "brier": _round(brier(probabilities, y)),
        "aurc": _round(aurc(probabilities.max(axis=1), correct)),
        "misclassification_auroc": misclassification_auroc(score, correct),
        "accuracy_coverage": accuracy_coverage(probabilities.max(axis=1), correct),
    }  # fmt: skip


def regression_uncertainty(
    mean: np.ndarray,
    variance: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    y: np.ndarray,
    level: float,
) -> dict[str, Any]:
    """Gaussian NLL of the predictive mean and variance, and the interval's coverage."""
    return {
        "gaussian_nll": _round(gaussian_nll(mean, variance, y)),
        "interval_level": level,
        "interval_coverage": _round(np.mean((y >= lower) & (y <= upper))),
        "mean_interval_width": _round(np.mean(upper - lower)),
    }


def nll(probabilities: np.ndarray, y: np.ndarray) -> float:
    picked = probabilities[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def brier(probabilities: np.ndarray, y: np.ndarray) -> float:
    onehot = np.eye(probabilities.shape[1])[y]
    return float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Error rate among the k most confident rows, for k = 1..rows (stable order)."""
    order = np.argsort(-confidence, kind="stable")
    errors = np.cumsum(~correct[order])
    return errors / np.arange(1, len(order) + 1)


def aurc(confidence: np.ndarray, correct: np.ndarray) -> float:
    return float(np.mean(risk_coverage(confidence, correct)))


def accuracy_coverage(confidence: np.ndarray, correct: np.ndarray) -> list[dict[str, float]]:
    """Accuracy when predicting only the most confident fraction of rows."""
    risk = risk_coverage(confidence, correct)
    points = []
    for coverage in COVERAGES:
        k = max(1, round(coverage * len(risk)))
        points.append({"coverage": coverage, "accuracy": round(float(1 - risk[k - 1]), 6)})
    return points


def misclassification_auroc(score: np.ndarray, correct: np.ndarray) -> float | None:
    """AUROC of ``score`` for detecting errors; undefined when all rows are right or wrong."""
    errors = torch.as_tensor(~correct, dtype=torch.int64)
    if errors.min() == errors.max():
        return None
    return _round(
        tmf.classification.binary_auroc(torch.as_tensor(score, dtype=torch.float64), errors)
    )


def gaussian_nll(mean: np.ndarray, variance: np.ndarray, y: np.ndarray) -> float:
    variance = np.maximum(variance, 1e-12)
    return float(np.mean(0.5 * (np.log(2 * np.pi * variance) + (y - mean) ** 2 / variance)))


def _round(value: Any) -> float | None:
    number = float(value.item() if hasattr(value, "item") else value)
    return round(number, 6) if np.isfinite(number) else None
