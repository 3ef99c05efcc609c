"""Turn a composed config (from ``conf/`` or from DVC's ``params.yaml``) into typed objects.

Both paths end in :func:`to_typed`, so a stage sees the same validated
:class:`~assayml.config.schema.AssayConfig` whether Hydra composed it interactively or DVC
composed it into ``params.yaml`` and the stage read that file.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, flag_override
from omegaconf.errors import OmegaConfBaseException

from assayml.config import hydra_speedups
from assayml.config.column_schemas import with_schema_file
from assayml.config.models import BUILTIN_MODEL_SCHEMAS
from assayml.config.overrides import open_mapping_overrides
from assayml.config.schema import AssayConfig, ColumnSpec, DataConfig
from assayml.config.store import register_configs
from assayml.errors import ConfigError

CONFIG_NAME = "config"


def compose(overrides: list[str] | None = None, config_dir: str | Path = "conf") -> DictConfig:
    """Compose ``config_dir/config.yaml`` with Hydra overrides, without running a job."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from yaml import YAMLError

    register_configs()
    config_dir = Path(config_dir).resolve()
    if not (config_dir / f"{CONFIG_NAME}.yaml").is_file():
        raise ConfigError(f"no {CONFIG_NAME}.yaml in {config_dir}: run assay from a project root")
    try:
        with initialize_config_dir(str(config_dir), version_base="1.3"):
            return hydra_compose(
                config_name=CONFIG_NAME, overrides=open_mapping_overrides(list(overrides or []))
            )
    except (HydraException, OmegaConfBaseException, YAMLError) as err:
        # a YAML error names the file and line itself
        raise ConfigError(f"cannot compose {config_dir}: {_chain(err)}") from err


def load_params(path: str | Path = "params.yaml") -> DictConfig:
    """Read a composed config that DVC (or ``assay compose``) wrote to ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such params file")
    hydra_speedups.install()  # YAML parsed in C: params.yaml 45 -> 25 ms (benchmarks/compose.py)
    try:
        cfg = OmegaConf.load(path)
    except Exception as err:  # yaml errors come in several classes
        raise ConfigError(f"{path}: not a readable YAML file: {err}") from err
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return cfg


def to_typed(cfg: DictConfig) -> AssayConfig:
    """Validate ``cfg`` against the schemas and return it as dataclass instances.

    Raises:
        ConfigError: naming the offending key, for unknown keys, wrong types, values out of
            range and interpolations that do not resolve.
    """
    container = OmegaConf.to_container(cfg, resolve=False)
    container.pop("hydra", None)
    model = container.get("model")
    if not isinstance(model, dict) or "_target_" not in model:
        raise ConfigError("model: missing, or without a _target_ naming its builder")
    data = container.get("data")
    if not isinstance(data, dict):
        raise ConfigError("data: missing; choose one with data=NAME")
    if "_target_" not in data:
        try:  # the name resolved: a config may write it as an interpolation (${.name})
            name = OmegaConf.select(cfg, "data.schema", default=None)
        except OmegaConfBaseException as err:
            raise ConfigError(_describe(err)) from err
        data = container["data"] = with_schema_file(data, name)
    try:
        # data and model are typed by their own schemas just below; merging them into the
        # root first (typed Any there) only deep-copied them once more (~0.2 s a run).
        # unsafe_merge: the target is a fresh copy of the template, ours to fill, so the
        # copy merge() makes of it first is waste (13% of to_typed). A root Hydra composed
        # is typed already, but not to be trusted: a `+key=...` override adds keys the
        # schema lacks, which only this merge refuses.
        rest = {key: value for key, value in container.items() if key not in ("data", "model")}
        merged = OmegaConf.unsafe_merge(_template(AssayConfig), rest)
        merged.data = _typed_node("data", data_schema(data), data)
        merged.model = _typed_node("model", model_schema(model), model)
        OmegaConf.resolve(merged)
    except OmegaConfBaseException as err:
        raise ConfigError(_describe(err)) from err
    parts = {}
    for key in merged:
        try:
            parts[key] = (
                OmegaConf.to_object(merged[key])
                if OmegaConf.is_config(merged[key])
                else merged[key]
            )
        except OmegaConfBaseException as err:
            raise ConfigError(_describe(err)) from err
        except (ValueError, TypeError) as err:  # raised by a schema's __post_init__
            raise ConfigError(f"config key {_refused_where(merged, key)}: {err}") from err
    try:
        return AssayConfig(**parts)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"invalid config: {err}") from err


def _typed_node(key: str, schema: type, node: dict[str, Any]) -> DictConfig:
    """``node`` merged into ``schema``; an error names the key from the config's root (and
    the schema file, for a column it declares)."""
    try:
        if schema is DataConfig and _plain_entries(node.get("columns")):
            return _typed_table_data(node)
        return OmegaConf.unsafe_merge(_template(schema), node)
    except OmegaConfBaseException as err:
        where = getattr(err, "full_key", None)
        message = str(err).split("\n")[0]
        if not where:
            raise ConfigError(f"config key '{key}': {message}") from err
        name = f"{key}.{where}"
        if key == "data" and node.get("schema") and where.startswith("columns."):
            message += f" (declared in conf/schemas/{node['schema']}.yaml or data.columns)"
        raise ConfigError(f"config key '{name}': {message}") from err


def _refused_where(merged: DictConfig, key: str) -> str:
    """``'key'``; for a column declaration that its own check refused (min above max),
    ``'data.columns.NAME'`` and where it was declared, as for its other errors."""
    if key != "data" or OmegaConf.get_type(merged.data) is not DataConfig:
        return f"'{key}'"
    columns = merged.data.columns
    for name in columns:
        try:
            if OmegaConf.is_config(columns[name]):
                OmegaConf.to_object(columns[name])
        except OmegaConfBaseException:  # not this column's own check: the key as it was
            continue
        except (ValueError, TypeError):
            schema = merged.data.get("schema")
            where = f"conf/schemas/{schema}.yaml or data.columns" if schema else "data.columns"
            return f"'data.columns.{name}' (declared in {where})"
    return f"'{key}'"


def _plain_entries(columns: Any) -> bool:
    """Whether ``columns`` maps names to mappings holding no interpolation. Anything else
    goes through the merge: an entry given as a value or an interpolation (which it words
    the error for), and an interpolation inside an entry (``allowed: ${..group.allowed}``),
    which OmegaConf resolves as the entry is merged, relative to where the entry stands."""
    return isinstance(columns, dict) and all(
        isinstance(name, str) and isinstance(entry, dict) and "${" not in repr(entry)
        for name, entry in columns.items()
    )


def _typed_table_data(data: dict[str, Any]) -> DictConfig:
    """DataConfig filled from ``data``, each column entry merged into a copy of an empty
    ColumnSpec and put in place as it is. Left to the merge, OmegaConf builds each entry's
    node from the class anew (reading its type hints again): 2.6 ms a column, 80 of the 90
    ms that typing breast_cancer's data config took; a copy and a merge take 0.6 ms. Each
    entry gets the node, value and error the merge gave it (its key named from
    ``columns``); the data config's other keys are merged first, so where a column and
    another key are both wrong, the other key is the one named."""
    rest = {key: value for key, value in data.items() if key != "columns"}
    node = OmegaConf.unsafe_merge(_template(DataConfig), rest)
    with flag_override(node.columns, "no_deepcopy_set_nodes", True):  # ours, just built
        for name, entry in data["columns"].items():
            try:
                column = OmegaConf.unsafe_merge(_template(ColumnSpec), entry)
            except OmegaConfBaseException as err:
                inner = getattr(err, "full_key", None)
                err.full_key = f"columns.{name}" + (f".{inner}" if inner else "")
                raise
            node.columns[name] = column
    return node


# Our own schemas as empty configs, built once: a deep copy of one is ~6x quicker than
# OmegaConf.structured (40 ms for AssayConfig, a fifth of to_typed). Users' schemas are
# made per config from their classes' signatures, so they are not kept.
_TEMPLATES: dict[type, DictConfig] = {}


def _template(schema: type) -> DictConfig:
    """A fresh ``OmegaConf.structured(schema)``, for the merge to fill."""
    module = sys.modules.get(schema.__module__)
    if (
        schema.__module__.startswith("assayml.")
        and getattr(module, schema.__name__, None) is schema
    ):
        if schema not in _TEMPLATES:
            _TEMPLATES[schema] = OmegaConf.structured(schema)
        return copy.deepcopy(_TEMPLATES[schema])
    return OmegaConf.structured(schema)


def model_schema(model: dict[str, Any]) -> type:
    """The schema for a model node: a built-in one, one derived from a user's builder, or
    for a LightningModule class one derived from its constructor (nested ``_target_``
    nodes checked against what they name)."""
    target = model["_target_"]
    if target in BUILTIN_MODEL_SCHEMAS:
        return BUILTIN_MODEL_SCHEMAS[target]
    from assayml.config import user_modules as user
    from assayml.config.custom_models import note_config_target, schema_for_builder

    obj = user.resolve_target(target, "model")
    if not user.is_lightning_class(obj, "LightningModule"):
        return schema_for_builder(target)
    kwargs = user.constructor_kwargs(model, user.MODULE_RESERVED)
    user.check_targets(kwargs, "model")
    for nested in user.nested_targets(kwargs):
        note_config_target(nested)
    return user.schema_for_class(target, obj, user.UserModuleConfig, "model")


def data_schema(data: dict[str, Any]) -> type:
    """DataConfig, or for ``data._target_`` (a LightningDataModule) a schema derived from
    its constructor."""
    target = data.get("_target_")
    if target is None:
        return DataConfig
    from assayml.config import user_modules as user

    obj = user.resolve_target(target, "data")
    if not user.is_lightning_class(obj, "LightningDataModule"):
        raise ConfigError(f"data._target_: '{target}' is not a LightningDataModule class")
    user.check_targets(user.constructor_kwargs(data, user.DATA_RESERVED), "data")
    return user.schema_for_class(target, obj, user.UserDataConfig, "data")


def uses_datamodule(cfg: AssayConfig) -> bool:
    """Whether the data comes from a user's LightningDataModule (``data._target_``)."""
    from assayml.config.user_modules import UserDataConfig

    return isinstance(cfg.data, UserDataConfig)


def uses_lightning_module(cfg: AssayConfig) -> bool:
    """Whether ``model._target_`` names a user's LightningModule (not a network builder)."""
    from assayml.config.user_modules import UserModuleConfig

    return isinstance(cfg.model, UserModuleConfig)


def config_hash(cfg: AssayConfig | DictConfig) -> str:
    """SHA-256 of the resolved config as canonical JSON: equal configs, equal hashes."""
    return hashlib.sha256(canonical_json(cfg).encode()).hexdigest()


def canonical_json(cfg: AssayConfig | DictConfig) -> str:
    """The resolved config as compact JSON (enums as their names), keys in config order.

    Order is kept, not sorted: the order of ``data.columns`` is the order of the features,
    so two configs that differ only in it train different models and must hash apart."""
    if isinstance(cfg, DictConfig):
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    else:
        container = plain(cfg)
    container.pop("hydra", None)
    return json.dumps(container, separators=(",", ":"), default=str)


def plain(value: Any) -> Any:
    """A typed config as JSON-ready containers, as ``OmegaConf.structured`` then
    ``to_container(enum_to_str=True)`` would give them (a test compares the two), without
    building the structured copy, which took 40-70 ms of every training run's set-up."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True, enum_to_str=True)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def to_yaml(cfg: AssayConfig) -> str:
    """The resolved config as YAML, the form stored in params.yaml and run records."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg), resolve=True)


def _describe(err: OmegaConfBaseException) -> str:
    key = getattr(err, "full_key", None)
    message = str(err).split("\n")[0]
    return f"config key '{key}': {message}" if key else f"invalid config: {message}"


def _chain(err: BaseException) -> str:
    """The messages of an exception and its causes: Hydra wraps the useful one."""
    messages = []
    while err is not None:
        text = str(err).strip()
        # a cause whose message the wrapper ends with (quotes) adds nothing
        quoted = any(seen == text or seen.endswith(text) for seen in messages)
        if text and not quoted and "$VALUE" not in text:
            messages.append(text)
        err = err.__cause__ or err.__context__
    return "\n".join(messages)
