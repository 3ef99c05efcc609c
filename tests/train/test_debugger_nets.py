"""Networks built to break one training-debugger rule each (``model._target_`` in
tests/train/test_debugger.py). No test functions here."""

from __future__ import annotations

import torch
from torch import nn


def build_sigmoid_stack(in_features: int, out_features: int, depth: int = 20) -> nn.Module:
    """``depth`` Linear+Sigmoid layers: the gradient shrinks ~4x per layer (vanishing)."""
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers += [nn.Linear(width, 16), nn.Sigmoid()]
        width = 16
    return nn.Sequential(*layers, nn.Linear(width, out_features))


def build_dead_relu(in_features: int, out_features: int, hidden: int = 32) -> nn.Module:
    """A ReLU layer whose units start (and stay) dead: every bias is -100."""
    first = nn.Linear(in_features, hidden)
    with torch.no_grad():
        first.bias.fill_(-100.0)
    return nn.Sequential(first, nn.ReLU(), nn.Linear(hidden, out_features))


class NanAfter(nn.Module):
    """An MLP whose training forward passes return NaN from the ``after``-th on."""

    def __init__(self, in_features: int, out_features: int, after: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(in_features, 16), nn.ReLU(), nn.Linear(16, out_features)
        )
        self.after, self.calls = after, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.after:
                out = out * float("nan")
        return out


def build_nan_after(in_features: int, out_features: int, after: int = 20) -> nn.Module:
    return NanAfter(in_features, out_features, after)
