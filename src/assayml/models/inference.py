"""Run a trained model on transformed rows: one code path for evaluate, predict and serve.

A model yields S sampled outputs per row: its ensemble members, its MC-dropout passes, or
just itself (S = 1). Classification averages the members' probabilities (after the stored
temperature, if any) and summarises their disagreement; regression mixes the samples'
Gaussians (or their point predictions) into a mean, a variance and an interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from assayml.features.transform import FeatureTransform
from assayml.models.heads import split_gaussian
from assayml.uncertainty.summaries import classification_summary, regression_summary

BATCH_ROWS = 8192  # rows per forward pass; bounds memory on large inputs


@dataclass
class Predictions:
    task: str
    predicted: np.ndarray  # class indices [rows] (int64), or values in target units [rows]
    probabilities: np.ndarray | None  # classification: mean probabilities [rows, classes]
    outputs: np.ndarray  # raw outputs [S, rows, out]: logits, or (scaled) regression heads
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)  # per-row columns


@dataclass(frozen=True)
class Sampling:
    """How a saved model produces its samples and reads them (from ``ModelSpec.extras``)."""

    members: int = 0  # > 0: an ensemble of this many members
    mc_samples: int = 0  # > 0: MC dropout with this many passes
    seed: int = 0  # MC-dropout draws
    temperature: float = 1.0  # divides the logits
    head: str = "logits"  # logits | point | gaussian
    interval: float = 0.9  # regression interval level
    # Fitted bias post-processing (models/mitigation.json, attached by load_model), or
    # None: binary decisions then come from its per-group thresholds, not ``threshold``.
    postprocess: dict | None = None

    @classmethod
    def from_extras(cls, extras: dict) -> Sampling:
        known = {k: extras[k] for k in cls.__dataclass_fields__ if k in extras}
        return cls(**known)


@torch.no_grad()
def sample_outputs(module: torch.nn.Module, x: np.ndarray, sampling: Sampling) -> torch.Tensor:
    """Raw outputs [S, rows, out] for ``x`` [rows, features], in batches of rows."""
    from assayml.uncertainty.mc_dropout import mc_dropout_samples

    module.eval()
    parts = []
    for start in range(0, len(x), BATCH_ROWS):
        batch = torch.from_numpy(np.ascontiguousarray(x[start : start + BATCH_ROWS]))
        if sampling.mc_samples:
            parts.append(mc_dropout_samples(module, batch, sampling.mc_samples, sampling.seed))
        else:
            out = module(batch)
            parts.append(out if sampling.members else out.unsqueeze(0))
    return torch.cat(parts, dim=1) if parts else torch.zeros((1, 0, 1))


def predict(
    module: torch.nn.Module,
    transform: FeatureTransform,
    x: np.ndarray,
    threshold: float = 0.5,
    sampling: Sampling | None = None,
) -> Predictions:
    """Predict for ``x`` [rows, features]; binary tasks predict class 1 at ``threshold``."""
    sampling = sampling or Sampling()
    outputs = sample_outputs(module, x, sampling).double()
    if transform.target.task == "regression":
        return _regression(outputs, transform, sampling)
    summary = classification_summary(torch.softmax(outputs / sampling.temperature, dim=-1).numpy())
    probabilities = summary.pop("probabilities")
    if transform.target.task == "binary" and sampling.postprocess is not None:
        from assayml.mitigation.postprocess import postprocess

        # One code path for evaluate, predict and serve (they all come here with x).
        predicted, applied = postprocess(sampling.postprocess, probabilities[:, 1], x, threshold)
        summary["mitigated"] = applied  # 1.0: the fitted thresholds; 0.0: unknown group
    elif transform.target.task == "binary":
        predicted = (probabilities[:, 1] >= threshold).astype(np.int64)
    else:
        predicted = probabilities.argmax(axis=1).astype(np.int64)
    return Predictions(transform.target.task, predicted, probabilities, outputs.numpy(), summary)


def _regression(outputs: torch.Tensor, transform: FeatureTransform, sampling: Sampling):
    std = transform.target.std
    if sampling.head == "gaussian":
        mean, variance = split_gaussian(outputs)
        means, variances = mean.numpy(), variance.numpy() * std**2
    else:
        means, variances = outputs[..., 0].numpy(), None
    summary = regression_summary(transform.decode_regression(means), variances, sampling.interval)
    predicted = summary.pop("mean")
    return Predictions("regression", predicted, None, outputs.numpy(), summary)
