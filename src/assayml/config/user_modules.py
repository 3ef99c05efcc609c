"""Schemas for a user's own LightningModule (``model._target_``) and LightningDataModule
(``data._target_``), derived from their constructors' signatures.

Like the built-in groups, a misspelt key fails by name: every constructor argument becomes a
field of a dataclass made for that class, and a nested ``_target_`` node (``net``,
``optimizer`` and ``scheduler`` with ``_partial_: true``, ...) is checked against the
signature of the class it names. A few keys are ours and never reach the constructor
(:data:`MODULE_RESERVED`, :data:`DATA_RESERVED`).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from assayml.config.data_schema import DataCardConfig
from assayml.config.schema import Task
from assayml.errors import ConfigError

HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")
# Keys whose values are flags, never objects: everything else (``_args_`` included: Hydra
# builds each positional argument it holds) is searched for nested ``_target_`` nodes.
FLAG_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_")


@dataclass
class UserModuleConfig:
    """A user's LightningModule: ``_target_`` plus its constructor arguments."""

    _target_: str = MISSING
    name: str = MISSING  # shown in records and cards; default: the class name
    task: Task = Task.auto  # auto: inferred from the DataModule's labels


@dataclass
class UserDataConfig:
    """A user's LightningDataModule: ``_target_`` plus its constructor arguments.

    ``files`` lists what the DataModule reads (files or folders, relative to the project
    root; none for generated data): their hashes go into every record and the lineage, and
    with ``rev`` they are read as they were at that git revision through DVC.
    """

    _target_: str = MISSING
    name: str = MISSING  # default: the class name
    files: list[str] = field(default_factory=list)
    rev: str | None = None
    task: Task = Task.auto  # auto: inferred from the labels of the train split
    # Attributes for the bias report: the batches are then (inputs, labels, {name: values})
    # and these name keys of that mapping (stages/datamodule.py: batch_facets).
    sensitive: list[str] = field(default_factory=list)
    reference_groups: dict[str, Any] = field(default_factory=dict)
    # Ownership and uses (config/data_schema.py); required when the DataModule reads files.
    card: DataCardConfig = field(default_factory=DataCardConfig)


MODULE_RESERVED = tuple(f.name for f in dataclasses.fields(UserModuleConfig))
DATA_RESERVED = tuple(f.name for f in dataclasses.fields(UserDataConfig))


def resolve_target(target: str, key: str):
    """The class or function ``target`` names (imported: the run's own, trusted config)."""
    from hydra.utils import get_object

    try:
        return get_object(target)
    except Exception as err:  # Hydra raises several kinds for a bad path
        raise ConfigError(f"{key}._target_: cannot import '{target}': {err}") from err


def is_lightning_class(obj: Any, base: str) -> bool:
    """Whether ``obj`` is a class deriving from Lightning's ``base`` (``LightningModule``
    or ``LightningDataModule``). Decided from the MRO by name, so that a config naming a
    plain builder does not import Lightning (a user's Lightning class already has)."""
    # lightning.pytorch only: the Trainer that fits it is lightning.pytorch's, which
    # refuses a pytorch_lightning module (then exit 2 from the caller's "not a ... class").
    return inspect.isclass(obj) and any(
        c.__name__ == base and c.__module__.startswith("lightning.pytorch") for c in obj.__mro__
    )


def schema_for_class(target: str, cls: type, base: type, key: str) -> type:
    """A dataclass for ``cls``'s constructor: ``base``'s fields (ours) plus one field per
    argument, typed when it is a scalar and ``Any`` otherwise; an argument without a
    default is MISSING (the config must give it)."""
    reserved = {f.name for f in dataclasses.fields(base)}
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: fall back to Any
        hints = {}
    objects: list[str] = []  # arguments whose default is an object (left out unless set)
    fields: list[tuple[str, Any, Any]] = [
        ("_target_", str, field(default=target)),
        ("name", str, field(default=cls.__name__)),
    ]
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in reserved:
            raise ConfigError(
                f"{key}._target_ {target}: argument '{name}' clashes with the reserved key "
                f"{key}.{name}; rename it"
            )
        default = MISSING if param.default is inspect.Parameter.empty else param.default
        if not _config_value(default):
            # An object default (loss=nn.CrossEntropyLoss()) cannot live in a config: the
            # key defaults to None and is left out when building, so the class's own
            # default applies; a config may still set it (a _target_ node).
            objects.append(name)
            default = None
        hint = hints.get(name, Any)
        typed = hint if hint in (int, float, str, bool) and default is not None else Any
        if isinstance(default, (list, tuple, dict)):
            spec = field(default_factory=lambda d=default: type(d)(d) if d else d)
        else:
            spec = field(default=default)
        fields.append((name, typed, spec))
    schema = dataclasses.make_dataclass(f"{cls.__name__}_config", fields, bases=(base,))
    schema.OBJECT_DEFAULTS = tuple(objects)
    return schema


def _config_value(value: Any) -> bool:
    """Whether ``value`` can be a config value (OmegaConf's primitives and containers)."""
    from enum import Enum

    if value is None or value is MISSING or isinstance(value, (bool, int, float, str, Enum)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_config_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _config_value(v) for k, v in value.items())
    return False


def constructor_node(config: Any) -> dict[str, Any]:
    """A typed user-module or DataModule config as the plain mapping Hydra instantiates:
    enums by name, and arguments whose default is an object left out while unset."""
    from enum import Enum

    def plain(value: Any) -> Any:
        if isinstance(value, Enum):
            return value.name
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    objects = getattr(type(config), "OBJECT_DEFAULTS", ())
    return {
        f.name: plain(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if not (f.name in objects and getattr(config, f.name) is None)
    }


def check_targets(node: Any, key: str) -> None:
    """Check every nested ``_target_`` node under ``node`` against the signature of what it
    names: an unknown key exits 2 naming it (``model.optimizer.lrr``)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            check_targets(item, f"{key}[{index}]")
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("_target_"), str):
        check_kwargs(resolve_target(node["_target_"], key), node, key)
    for name, value in node.items():
        if name not in FLAG_KEYS:
            check_targets(value, f"{key}.{name}")


def nested_targets(node: Any) -> list[str]:
    """Every ``_target_`` string in ``node`` (itself and nested), in order."""
    if isinstance(node, list):
        return [t for item in node for t in nested_targets(item)]
    if not isinstance(node, dict):
        return []
    own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
    return own + [t for k, v in node.items() if k not in FLAG_KEYS for t in nested_targets(v)]


def check_kwargs(obj: Any, node: dict[str, Any], key: str, skip: tuple[str, ...] = ()) -> None:
    """Refuse a key of ``node`` that ``obj``'s signature does not take."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return
    params = signature.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for name in node:
        if name in HYDRA_KEYS or name in skip:
            continue
        if name not in params:
            known = ", ".join(n for n in params if n not in ("self", "params"))
            raise ConfigError(
                f"config key '{key}.{name}': {node['_target_']} takes no argument "
                f"'{name}' (it takes: {known})"
            )


def constructor_kwargs(node: dict[str, Any], reserved: tuple[str, ...]) -> dict[str, Any]:
    """The node without our reserved keys: what :func:`instantiate` passes on."""
    return {k: v for k, v in node.items() if k not in reserved or k == "_target_"}


def instantiate(node: dict[str, Any], reserved: tuple[str, ...], **overrides: Any):
    """Build the object ``node`` describes (nested ``_target_`` nodes too, partials as
    ``functools.partial``), with ``overrides`` replacing constructor arguments."""
    from hydra.utils import instantiate as hydra_instantiate

    kwargs = constructor_kwargs(node, reserved) | overrides
    try:
        return hydra_instantiate(kwargs, _convert_="all")
    except Exception as err:  # the user's constructor may raise anything
        cause = err.__cause__ or err
        raise ConfigError(f"cannot build {node['_target_']}: {cause}") from err
