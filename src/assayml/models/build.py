"""Build a network from its ``model`` config: the builder named by ``_target_``, called with
the input and output widths and the config's architecture fields."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from assayml.config.custom_models import resolve_builder
from assayml.config.models import ModelConfig
from assayml.errors import ConfigError
from assayml.models.trust import BuilderTrust

OPTIMISER_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}


def architecture_kwargs(model: ModelConfig) -> dict[str, Any]:
    """The builder's keyword arguments: every field not about the optimiser, plain values."""
    return {
        f.name: _plain(getattr(model, f.name))
        for f in dataclasses.fields(model)
        if f.name not in OPTIMISER_FIELDS
    }


def build_network(
    target: str,
    kwargs: dict[str, Any],
    in_features: int,
    out_features: int,
    trust: BuilderTrust | None = None,
):
    """Call the builder ``target`` (a dotted path) with the widths and ``kwargs``.

    ``trust`` is None for a target from the run's own config (trusted: training); a saved
    model's target passes the loading policy, which refuses it before any import.
    """
    builder = resolve_builder(target) if trust is None else trust.resolve(target, "model.json")
    try:
        return builder(in_features=in_features, out_features=out_features, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model: cannot build {target}: {err}") from err


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
