"""Column declarations kept in their own file (``conf/schemas/NAME.yaml``), out of params.

A table's schema is data description, not a hyperparameter: inline in the data config it
put one ``data.columns.*`` param per declared property into params.yaml, where ``dvc exp
show`` and ``dvc params diff`` list every one (155 of 343 columns for breast_cancer). A data
config names its schema file with ``schema: NAME``; DVC tracks ``conf/schemas`` as a file
dependency of the stages that read it. ``data.columns`` still holds the user's changes:
each entry is merged over the file's entry of that column (``data.columns.age.max=90``
changes one property), and a column the file lacks is added.

Composition (Hydra, and DVC's Hydra integration) sees ``columns`` as plain mappings
(:class:`DataConfigNode`), so a partial entry composes; :func:`with_schema_file` then
merges, and ``to_typed`` validates every merged entry against ColumnSpec by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assayml.config.schema import DataConfig
from assayml.errors import ConfigError

SCHEMA_DIR = Path("conf") / "schemas"  # relative to the project root (the working directory)
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass
class DataConfigNode(DataConfig):
    """DataConfig as Hydra composes it: column entries untyped, so that a partial entry
    (one property changed) composes; they are typed after the merge with the schema file."""

    columns: dict[str, Any] = field(default_factory=dict)


def schema_file(name: str) -> Path:
    """``conf/schemas/NAME.yaml``; a name that is not a plain file name is refused, so a
    config cannot point the schema outside the project's schema folder."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"config key 'data.schema': '{name}' is not a schema name (a file name in "
            f"{SCHEMA_DIR}/, without .yaml)"
        )
    if name.endswith(".yaml"):
        raise ConfigError(f"config key 'data.schema': '{name}': give the name without .yaml")
    return SCHEMA_DIR / f"{name}.yaml"


def read_schema(name: str) -> dict[str, dict[str, Any]]:
    """The column entries of schema ``name``, in file order."""
    import yaml

    path = schema_file(name)
    if not path.is_file():
        known = sorted(p.stem for p in SCHEMA_DIR.glob("*.yaml")) if SCHEMA_DIR.is_dir() else []
        raise ConfigError(
            f"config key 'data.schema': {path}: no such file"
            + (f"; schemas here: {', '.join(known)}" if known else "")
        )
    try:
        entries = yaml.load(path.read_text(encoding="utf-8"), Loader=_strict_loader())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not a readable YAML file: {err}") from err
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: expected a mapping of column name to declaration")
    for column, entry in entries.items():
        if not isinstance(column, str):
            raise ConfigError(
                f"{path}: column name {column!r} is read as {type(column).__name__}: quote it"
            )
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{path}: column '{column}': expected a mapping such as {{dtype: float}}, "
                f"got {entry!r}"
            )
    return {column: dict(entry) for column, entry in entries.items()}


def _strict_loader() -> type:
    """A safe YAML loader (libyaml's parser where present) that refuses a key given twice:
    PyYAML keeps the last silently, and the conf/ files (read by OmegaConf) refuse it."""
    import yaml

    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        def construct_mapping(self, node, deep=False):
            seen: list = []
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice", key_node.start_mark
                    )
                seen.append(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def with_schema_file(data: dict[str, Any], name: str | None) -> dict[str, Any]:
    """``data`` (a composed table data config) with the entries of schema file ``name``
    (its ``schema``, resolved) merged under its inline ``columns``; a column set to null
    there is dropped. Unchanged when it names no schema file."""
    changes = data.get("columns")
    if changes is not None and not isinstance(changes, dict):
        raise ConfigError(
            "config key 'data.columns': expected a mapping of column name to declaration, "
            f"got {changes!r}"
        )
    if name is None:
        return data
    columns = read_schema(name)
    for column, change in (changes or {}).items():
        if change is None:  # data.columns.NAME=null: the file's column left out
            columns.pop(column, None)
            continue
        if not isinstance(change, dict):
            raise ConfigError(f"config key 'data.columns.{column}': expected a mapping")
        columns[column] = {**columns.get(column, {}), **change}
    return {**data, "columns": columns}
