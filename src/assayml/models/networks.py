"""Plain ``nn.Module`` builders, the ``_target_`` of each ``model`` config.

Each takes the input width and the output width (classes, or 1 for regression) plus the
flat architecture arguments its config declares. They know nothing of Lightning.
"""

from __future__ import annotations

import math

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


def build_logreg(in_features: int, out_features: int) -> nn.Module:
    """Multinomial logistic regression (linear regression for one output)."""
    return nn.Linear(in_features, out_features)


def build_mlp(
    in_features: int,
    out_features: int,
    hidden: int = 64,
    layers: int = 2,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Module:
    """``layers`` x [Linear -> (BatchNorm) -> activation -> (Dropout)] -> Linear."""
    blocks: list[nn.Module] = []
    width = in_features
    for _ in range(layers):
        blocks.append(nn.Linear(width, hidden))
        if batch_norm:
            blocks.append(nn.BatchNorm1d(hidden))
        blocks.append(ACTIVATIONS[_name(activation)]())
        if dropout > 0:
            blocks.append(nn.Dropout(dropout))
        width = hidden
    blocks.append(nn.Linear(width, out_features))
    return nn.Sequential(*blocks)


def build_cnn(
    in_features: int,
    out_features: int,
    image_shape: tuple[int, int] | list[int] = (8, 8),
    channels: tuple[int, ...] | list[int] = (16, 32),
    hidden: int = 64,
    dropout: float = 0.0,
) -> nn.Module:
    """[Conv3x3 -> ReLU -> MaxPool2] per channel count -> Linear -> ReLU -> Linear.

    Inputs stay flat rows of pixels, [batch, H*W]; the first layer reshapes them to
    [batch, 1, H, W] so that features, explanations and serving treat images like tables.
    """
    height, width = image_shape
    if height * width != in_features:
        raise ValueError(f"image_shape {height}x{width} does not match {in_features} features")
    layers: list[nn.Module] = [nn.Unflatten(1, (1, height, width))]
    in_channels = 1
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU()]
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = math.floor(height / 2), math.floor(width / 2)
        in_channels = out_channels
    layers += [nn.Flatten(), nn.Linear(in_channels * height * width, hidden), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, out_features))
    return nn.Sequential(*layers)


def _name(value: object) -> str:
    """Enum members from the typed config, or plain strings from a params file."""
    return getattr(value, "name", value)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["build_cnn", "build_logreg", "build_mlp", "count_parameters"]
