"""Run a trained network on transformed rows: one code path for evaluate, predict and serve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from assayml.features.transform import FeatureTransform

BATCH_ROWS = 8192  # rows per forward pass; bounds memory on large inputs


@dataclass
class Predictions:
    task: str
    predicted: np.ndarray  # class indices [rows] (int64), or values in target units [rows]
    probabilities: np.ndarray | None  # classification: [rows, classes]
    outputs: np.ndarray  # raw network outputs: logits [rows, classes] or [rows] (scaled)


@torch.no_grad()
def predict(
    module: torch.nn.Module,
    transform: FeatureTransform,
    x: np.ndarray,
    threshold: float = 0.5,
) -> Predictions:
    """Predict for ``x`` [rows, features]; binary tasks predict class 1 at ``threshold``."""
    module.eval()
    task = transform.target.task
    parts = [module(torch.from_numpy(x[i : i + BATCH_ROWS])) for i in range(0, len(x), BATCH_ROWS)]
    outputs = torch.cat(parts) if parts else torch.zeros((0, 1))
    if task == "regression":
        raw = outputs.squeeze(-1).double().numpy()
        return Predictions(task, transform.decode_regression(raw), None, raw)
    probabilities = torch.softmax(outputs.double(), dim=-1).numpy()
    if task == "binary":
        predicted = (probabilities[:, 1] >= threshold).astype(np.int64)
    else:
        predicted = probabilities.argmax(axis=1).astype(np.int64)
    return Predictions(task, predicted, probabilities, outputs.double().numpy())
