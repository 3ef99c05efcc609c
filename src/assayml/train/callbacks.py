"""The ``callbacks`` group: named ``_target_`` objects, built and checked against their
signatures, with the few rules that tie them to the rest of the config.

* ``train.early_stopping.enabled=false`` removes every ``EarlyStopping``.
* A progress bar runs only with ``trainer.enable_progress_bar`` and without ``--quiet``
  (Lightning refuses a progress-bar callback when the bar is off).
* ``LearningRateMonitor`` needs a logger to write to; without one it is left out
  (Lightning would stop the run) — see :func:`drop_unloggable`.

The same builder makes the user's own loggers (``logger.custom``).
"""

from __future__ import annotations

import enum
import inspect
from typing import Any

from assayml.config.schema import AssayConfig
from assayml.errors import ConfigError

CONFIGURED = "_assay_callback_name"  # set on each callback built from the group


def build_callbacks(cfg: AssayConfig) -> list[Any]:
    """The ``callbacks`` group's objects, in config order, after the rules above."""
    from lightning.pytorch.callbacks import EarlyStopping, ProgressBar

    from assayml.verbosity import quiet

    built = []
    for name, callback in instantiate_named(cfg.callbacks, "callbacks").items():
        if isinstance(callback, EarlyStopping) and not cfg.train.early_stopping.enabled:
            continue
        if isinstance(callback, ProgressBar) and (not cfg.trainer.enable_progress_bar or quiet()):
            continue
        setattr(callback, CONFIGURED, name)
        built.append(callback)
    return built


def drop_unloggable(callbacks: list[Any], has_logger: bool) -> list[Any]:
    """``callbacks`` without the ones that need a logger, when there is none."""
    from lightning.pytorch.callbacks import LearningRateMonitor

    if has_logger:
        return callbacks
    return [c for c in callbacks if not isinstance(c, LearningRateMonitor)]


def instantiate_named(nodes: dict[str, Any], where: str) -> dict[str, Any]:
    """``{name: {_target_, **kwargs} | None}`` -> ``{name: object}``; null entries are off.

    Raises:
        ConfigError: naming ``<where>.<name>`` for a missing or unimportable ``_target_``,
            and ``<where>.<name>.<key>`` for a keyword the class does not take.
    """
    from hydra.utils import get_object, instantiate

    made = {}
    for name, node in nodes.items():
        if node is None:
            continue
        if not isinstance(node, dict) or "_target_" not in node:
            raise ConfigError(f"{where}.{name}: needs a _target_ (a class), or null to remove it")
        node = _plain(node)
        try:
            target = get_object(node["_target_"])
        except Exception as err:  # Hydra raises several kinds for a bad path
            raise ConfigError(f"{where}.{name}._target_: cannot import: {err}") from err
        check_kwargs(target, node, f"{where}.{name}")
        try:
            made[name] = instantiate(node, _convert_="all")
        except Exception as err:  # the class's own checks (ValueError, Misconfiguration...)
            cause = err.__cause__ or err
            raise ConfigError(f"{where}.{name}: {type(cause).__name__}: {cause}") from err
    return made


def check_kwargs(target: Any, node: dict[str, Any], where: str) -> None:
    """Refuse a key ``target``'s signature has no parameter for (unless it takes
    ``**kwargs``); Hydra's own keys (``_target_``, ``_partial_``...) are allowed."""
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return  # no introspectable signature (a builtin): the call itself will check
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in node:
        if not (key.startswith("_") and key.endswith("_")) and key not in params:
            known = ", ".join(k for k in params if k not in ("self", "args", "kwargs"))
            raise ConfigError(
                f"{where}.{key}: {node['_target_']} takes no argument '{key}' (it takes: {known})"
            )


def _plain(node: Any) -> Any:
    """Enums by name (``${train.mode}`` resolves to one), containers copied."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node.name if isinstance(node, enum.Enum) else node
