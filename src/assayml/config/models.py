"""Schemas of the ``model`` group, one per built-in network builder.

The fields a subclass adds are exactly the keyword arguments of its builder in
``assayml.models.networks`` (a test checks this); the fields of :class:`ModelConfig`
configure the optimiser and LR scheduler. A model whose ``_target_`` is not listed here gets
a schema derived from its builder's signature (``assayml.models.build.schema_for_builder``).

An optimiser is a short name or, like a scheduler, a Hydra ``_partial_`` node naming a
``torch.optim`` class; its keys are checked against the class's signature here, at load time,
so a misspelt one exits 2 by name before anything trains (``assayml.train.optim`` builds it).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

from assayml.errors import ConfigError


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
    # adam | adamw | sgd, or any torch.optim optimizer as a node {_target_: torch.optim.RMSprop,
    # _partial_: true, ...its kwargs}; lr and weight_decay above fill its own unless it sets them.
    optimizer: Any = Optimizer.adam
    # null, or any torch.optim.lr_scheduler class as a _partial_ node; the reserved keys
    # interval (epoch | step), frequency, monitor (ReduceLROnPlateau; default train.monitor),
    # strict and name go to Lightning's scheduler config, not to the constructor.
    scheduler: Any = None

    def __post_init__(self) -> None:
        if not 0.0 < self.lr <= 1.0:
            raise ValueError(f"lr must lie in (0, 1], got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        self.optimizer = check_optimizer(self.optimizer)
        self.scheduler = check_scheduler(self.scheduler)


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


# Keys of Lightning's lr_scheduler config (besides "scheduler" itself), kept out of the
# scheduler's constructor.
SCHEDULER_KEYS = ("interval", "frequency", "monitor", "strict", "name")
OPTIMIZER_BASE = "torch.optim.Optimizer"
SCHEDULER_BASE = "torch.optim.lr_scheduler.LRScheduler"  # ReduceLROnPlateau included


def check_optimizer(spec: Any, key: str = "model.optimizer") -> Optimizer | dict[str, Any]:
    """A short name as its :class:`Optimizer`, or a checked ``_partial_`` node as a dict.

    Raises:
        ConfigError: naming ``key`` (or ``key.<arg>``) for an unknown name, a target that is
            not an optimiser class, or an argument the class does not take.
    """
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        if spec in Optimizer.__members__:
            return Optimizer[spec]
        names = " | ".join(Optimizer.__members__)
        raise ConfigError(
            f"{key}: '{spec}' is not one of {names}, nor a node "
            "{_target_: torch.optim.<Optimizer>, _partial_: true, ...}"
        )
    # lr and weight_decay may come from model.lr / model.weight_decay.
    return _check_partial(spec, key, OPTIMIZER_BASE, ("lr", "weight_decay"))


def check_scheduler(spec: Any, key: str = "model.scheduler") -> dict[str, Any] | None:
    """None, or a checked ``_partial_`` scheduler node as a dict (see :func:`check_optimizer`)."""
    if spec is None:
        return None
    node = _check_partial(spec, key, SCHEDULER_BASE, (), SCHEDULER_KEYS)
    interval = node.get("interval", "epoch")
    if interval not in ("epoch", "step"):
        raise ConfigError(f"{key}.interval: must be epoch or step, got '{interval}'")
    frequency = node.get("frequency", 1)
    if not isinstance(frequency, int) or isinstance(frequency, bool) or frequency < 1:
        raise ConfigError(f"{key}.frequency: must be a positive integer, got {frequency!r}")
    return node


def _check_partial(
    spec: Any,
    key: str,
    base: str,
    supplied: tuple[str, ...],
    reserved: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``spec`` as a plain dict once its class and keyword arguments are checked; the first
    constructor argument (the parameters, or the optimiser) is supplied when it is built."""
    from hydra.utils import get_object

    kind = f"a {base} class"
    if not isinstance(spec, dict) or not isinstance(spec.get("_target_"), str):
        raise ConfigError(f"{key}: expected a node with a _target_ naming {kind}")
    if spec.get("_partial_") is not True:
        raise ConfigError(f"{key}: set _partial_: true (it is built later, around the model)")
    target = spec["_target_"]
    try:
        cls = get_object(target)
    except Exception as err:  # Hydra raises several kinds for a bad path
        raise ConfigError(f"{key}._target_: cannot import '{target}': {err}") from err
    if not (isinstance(cls, type) and issubclass(cls, get_object(base))):
        raise ConfigError(f"{key}._target_: {target} is not {kind}")
    params = list(inspect.signature(cls).parameters.values())[1:]  # after params/optimizer
    named = {p.name: p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    args = [k for k in spec if not k.startswith("_") and k not in reserved]
    for name in args:
        if name not in named and not open_kwargs:
            raise ConfigError(
                f"{key}.{name}: not an argument of {target} (it takes: {', '.join(named)})"
            )
    for name, param in named.items():
        if param.default is param.empty and name not in args and name not in supplied:
            raise ConfigError(f"{key}.{name}: {target} needs this argument")
    return dict(spec)


BUILTIN_MODEL_SCHEMAS: dict[str, type[ModelConfig]] = {
    schema._target_: schema for schema in (LogRegConfig, MLPConfig, CNNConfig)
}
