"""Schemas of the ``model`` group, one per built-in network builder.

The fields a subclass adds are exactly the keyword arguments of its builder in
``assayml.models.networks`` (a test checks this); the fields of :class:`ModelConfig`
configure the optimiser. A model whose ``_target_`` is not listed here gets a schema
derived from its builder's signature (``assayml.models.build.schema_for_builder``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from omegaconf import MISSING


class Optimizer(Enum):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"  # with momentum 0.9


class Activation(Enum):
    relu = "relu"
    gelu = "gelu"
    tanh = "tanh"
    silu = "silu"


@dataclass
class ModelConfig:
    _target_: str = MISSING  # builder: (in_features, out_features, **arch) -> nn.Module
    name: str = MISSING
    lr: float = 1e-3  # learning rate, (0, 1]
    weight_decay: float = 0.0  # L2 penalty, >= 0
    optimizer: Optimizer = Optimizer.adam

    def __post_init__(self) -> None:
        if not 0.0 < self.lr <= 1.0:
            raise ValueError(f"lr must lie in (0, 1], got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")


@dataclass
class LogRegConfig(ModelConfig):
    _target_: str = "assayml.models.networks.build_logreg"
    name: str = "logreg"


@dataclass
class MLPConfig(ModelConfig):
    _target_: str = "assayml.models.networks.build_mlp"
    name: str = "mlp"
    hidden: int = 64  # units per hidden layer, >= 1
    layers: int = 2  # hidden layers, >= 1
    activation: Activation = Activation.relu
    dropout: float = 0.0  # after each hidden activation, [0, 1)
    batch_norm: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden < 1 or self.layers < 1:
            raise ValueError(f"hidden and layers must be >= 1, got {self.hidden}, {self.layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")


@dataclass
class CNNConfig(ModelConfig):
    _target_: str = "assayml.models.networks.build_cnn"
    name: str = "cnn"
    image_shape: list[int] = field(default_factory=lambda: [8, 8])  # height, width
    channels: list[int] = field(default_factory=lambda: [16, 32])  # per 3x3 conv block
    hidden: int = 64  # units of the dense layer after the convolutions
    dropout: float = 0.0  # before the output layer, [0, 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.image_shape) != 2 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be [height, width], got {self.image_shape}")
        if not self.channels or min(self.channels) < 1:
            raise ValueError("channels must be a non-empty list of positive ints")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")


BUILTIN_MODEL_SCHEMAS: dict[str, type[ModelConfig]] = {
    schema._target_: schema for schema in (LogRegConfig, MLPConfig, CNNConfig)
}
