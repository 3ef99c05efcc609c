"""Schemas for users' own network builders, derived from the builder's signature.

A model config whose ``_target_`` is not one of ours gets a dataclass whose fields are the
builder's keyword arguments (after the two widths), with their types and defaults, so a
misspelt key fails by name here as it does for the built-in models.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

from assayml.config.models import ModelConfig
from assayml.errors import ConfigError

WIDTH_ARGS = ("in_features", "out_features")

# Builders named by a config this process validated (conf/ + overrides, or params.yaml):
# the user's own, trusted configuration, so a stage may load the model it just trained
# with one (see assayml.models.trust, which reads this through config_builders()).
_CONFIG_BUILDERS: set[str] = set()


def config_builders() -> frozenset[str]:
    """The custom builders of every config this process has validated."""
    return frozenset(_CONFIG_BUILDERS)


def note_config_target(target: str) -> None:
    """Record ``target`` as named by a validated config (trusted for loading in-process)."""
    _CONFIG_BUILDERS.add(target)


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
    _CONFIG_BUILDERS.add(target)
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
