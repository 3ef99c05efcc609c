"""Overrides that add keys to the schema's mappings, from the command line.

Hydra applies ``key={...}`` and ``key.new=value`` by merging into the composed config, and
struct mode refuses a key the node does not have yet: ``data.reference_groups={race: 1}``
failed with "Key 'race' is not in struct". A mapping's keys are the user's (column names,
metric names), so an override that sets one is passed to Hydra as a force-add (``++``);
the merged config is still validated against the schemas afterwards (``to_typed``), so a
misspelt key inside a dataclass value (``data.columns.age={dtyp: int}``) fails by name.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from assayml.config.schema import AssayConfig, DataConfig


def open_mapping_overrides(overrides: list[str]) -> list[str]:
    """``overrides`` with every plain override into a schema mapping made a force-add."""
    return [_force_add(o) if _sets_mapping_key(o) else o for o in overrides]


def _force_add(override: str) -> str:
    return "++" + override


def _sets_mapping_key(override: str) -> bool:
    if override.startswith(("+", "~", "-")) or "=" not in override:
        return False
    key = override.split("=", 1)[0]
    if "@" in key or "/" in key:  # a config group choice, not a value
        return False
    # A table data config without `data_schema` in its defaults (a user's own, written
    # before it existed) holds only the keys its YAML sets: a key of the data schema is
    # added. A misspelt one is not, so Hydra still refuses it by name.
    parts = key.split(".")
    return (len(parts) > 1 and parts[0] == "data" and schema_path(DataConfig, parts[1:])) or (
        mapping_depth(parts) is not None
    )


def schema_path(kind: Any, parts: list[str]) -> bool:
    """Whether ``parts`` name a field of the dataclass ``kind`` (through nested dataclasses;
    any key below a mapping or an untyped field)."""
    for part in parts:
        if not dataclasses.is_dataclass(kind):
            return True  # inside a mapping, a list or an Any field: the user's keys
        hints = typing.get_type_hints(kind)
        if part not in hints:
            return False
        kind = _unwrap_optional(hints[part])
    return True


def mapping_depth(parts: list[str]) -> int | None:
    """How many leading parts of a dotted key lead to a mapping field of the schema; None
    when the key does not reach one (a plain field, a group, or no field at all)."""
    kind: Any = AssayConfig
    for depth, part in enumerate(parts, start=1):
        if not dataclasses.is_dataclass(kind):
            return None
        hints = typing.get_type_hints(kind)
        if part not in hints:
            return None
        # `data` is typed Any (a DataModule may stand there); its usual schema is DataConfig.
        kind = (
            DataConfig if (kind, part) == (AssayConfig, "data") else _unwrap_optional(hints[part])
        )
        if typing.get_origin(kind) is dict:
            return depth
    return None


def _unwrap_optional(kind: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return args[0] if len(args) == 1 else kind
    return kind
