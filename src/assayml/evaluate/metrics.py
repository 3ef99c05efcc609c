"""Metrics with torchmetrics: classification (accuracy, F1, precision, recall, AUROC,
confusion matrix) and regression (MAE, RMSE, R²)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import functional as tmf

from assayml.models.inference import Predictions


def compute_metrics(pred: Predictions, y: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Metrics of ``pred`` against the true labels (class indices) or targets (units)."""
    if pred.task == "regression":
        return regression_metrics(pred.predicted, y)
    return classification_metrics(pred, y, threshold)


def classification_metrics(pred: Predictions, y: np.ndarray, threshold: float) -> dict[str, Any]:
    probs = torch.from_numpy(pred.probabilities)
    target = torch.tensor(np.asarray(y, dtype=np.int64))
    if pred.task == "binary":
        p1 = probs[:, 1]
        metrics = {
            "accuracy": tmf.classification.binary_accuracy(p1, target, threshold),
            "f1": tmf.classification.binary_f1_score(p1, target, threshold),
            "precision": tmf.classification.binary_precision(p1, target, threshold),
            "recall": tmf.classification.binary_recall(p1, target, threshold),
            "auroc": _auroc(lambda: tmf.classification.binary_auroc(p1, target), target),
        }
        matrix = tmf.classification.binary_confusion_matrix(p1, target, threshold)
    else:
        k = probs.shape[1]
        macro = {"num_classes": k, "average": "macro"}
        metrics = {
            "accuracy": tmf.classification.multiclass_accuracy(probs, target, k, average="micro"),
            "balanced_accuracy": tmf.classification.multiclass_accuracy(probs, target, **macro),
            "f1": tmf.classification.multiclass_f1_score(probs, target, **macro),
            "precision": tmf.classification.multiclass_precision(probs, target, **macro),
            "recall": tmf.classification.multiclass_recall(probs, target, **macro),
            "auroc": _auroc(
                lambda: tmf.classification.multiclass_auroc(probs, target, **macro), target
            ),
        }
        matrix = tmf.classification.multiclass_confusion_matrix(probs, target, k)
    result: dict[str, Any] = {k: _number(v) for k, v in metrics.items()}
    result["rows"] = len(target)
    result["confusion_matrix"] = matrix.tolist()  # rows: true class, columns: predicted
    return result


def regression_metrics(predicted: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    preds = torch.tensor(np.asarray(predicted, dtype=np.float64))
    target = torch.tensor(np.asarray(y, dtype=np.float64))
    return {
        "mae": _number(tmf.mean_absolute_error(preds, target)),
        "rmse": _number(tmf.mean_squared_error(preds, target, squared=False)),
        "r2": _number(tmf.r2_score(preds, target)) if len(target) > 1 else None,
        "rows": len(target),
    }


def _auroc(compute, target: torch.Tensor) -> float | None:
    """AUROC is undefined when the split holds one class only."""
    if torch.unique(target).numel() < 2:
        return None
    return compute()


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value.item() if hasattr(value, "item") else value)
    # torchmetrics computes in float32: digits past the sixth are noise, not information.
    return round(number, 6) if np.isfinite(number) else None
