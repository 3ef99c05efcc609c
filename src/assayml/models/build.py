"""Build a network from its ``model`` config: the builder named by ``_target_``, called with
the input and output widths and the config's architecture fields."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from enum import Enum
from typing import Any

from assayml.config.models import ModelConfig
from assayml.errors import ConfigError

OPTIMISER_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
WIDTH_ARGS = ("in_features", "out_features")


def architecture_kwargs(model: ModelConfig) -> dict[str, Any]:
    """The builder's keyword arguments: every field not about the optimiser, plain values."""
    return {
        f.name: _plain(getattr(model, f.name))
        for f in dataclasses.fields(model)
        if f.name not in OPTIMISER_FIELDS
    }


def build_network(target: str, kwargs: dict[str, Any], in_features: int, out_features: int):
    """Call the builder ``target`` (a dotted path) with the widths and ``kwargs``."""
    builder = resolve_builder(target)
    try:
        return builder(in_features=in_features, out_features=out_features, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model: cannot build {target}: {err}") from err


def resolve_builder(target: str):
    from hydra.utils import get_method

    try:
        return get_method(target)
    except Exception as err:  # Hydra raises several kinds for a bad path
        raise ConfigError(f"model._target_: cannot import '{target}': {err}") from err


def schema_for_builder(target: str) -> type[ModelConfig]:
    """A schema for a user's own builder, derived from its signature: every parameter after
    the two widths becomes a field with the same type and default."""
    builder = resolve_builder(target)
    hints = typing.get_type_hints(builder)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, dataclasses.field(default=target))]
    for name, param in inspect.signature(builder).parameters.items():
        if name in WIDTH_ARGS:
            continue
        if param.default is inspect.Parameter.empty:
            raise ConfigError(f"model._target_ {target}: argument '{name}' needs a default")
        default = param.default
        spec = (
            dataclasses.field(default_factory=lambda d=default: list(d))
            if isinstance(default, (list, tuple))
            else dataclasses.field(default=default)
        )
        hint = hints.get(name, Any)
        # OmegaConf validates scalars; anything richer is checked by the builder itself.
        fields.append((name, hint if hint in (int, float, str, bool) else Any, spec))
    return dataclasses.make_dataclass(f"{builder.__name__}_config", fields, bases=(ModelConfig,))


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
