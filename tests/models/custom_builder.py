"""A user's own network builder, for the test that derives a schema from a signature."""

from torch import nn


def build_wide(in_features: int, out_features: int, width: int = 4) -> nn.Module:
    return nn.Sequential(nn.Linear(in_features, width), nn.ReLU(), nn.Linear(width, out_features))
