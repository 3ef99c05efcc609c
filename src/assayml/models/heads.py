"""What a network's outputs mean: logits (classification), a point (regression), or a
Gaussian mean and variance (regression with ``uncertainty.gaussian_head``)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

MIN_VARIANCE = 1e-6  # floor on a Gaussian head's predicted variance (standardised units)


def head_for(task: str, uncertainty_method: str, gaussian_head: bool) -> str:
    if task != "regression":
        return "logits"
    return "gaussian" if uncertainty_method != "none" and gaussian_head else "point"


def output_width(task: str, classes: int, head: str) -> int:
    if task != "regression":
        return classes
    return 2 if head == "gaussian" else 1


def split_gaussian(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A Gaussian head's (mean, variance), each ``output.shape[:-1]``."""
    return output[..., 0], F.softplus(output[..., 1]) + MIN_VARIANCE
