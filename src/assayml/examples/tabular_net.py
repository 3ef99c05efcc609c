"""Your own ``nn.Module`` for tables, trained by assayml's module on our features.

A network class whose constructor takes ``in_features`` and ``out_features`` (the widths
assayml passes) plus its own keyword arguments, which become the keys of its model config
(``conf/model/residual_mlp.yaml``), validated against this signature. Everything else (loss,
optimizer, ensembles, MC dropout, explanations, serving) is assayml's.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualMLP(nn.Module):
    """An input projection, ``blocks`` residual blocks (Linear-ReLU-Dropout) and an output
    layer."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 32,
        blocks: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.project = nn.Linear(in_features, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
            for _ in range(blocks)
        )
        self.out = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.project(x))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)
