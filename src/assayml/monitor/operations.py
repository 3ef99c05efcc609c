"""How the monitor runs, as opposed to what it checks: ``monitor.schedule``, ``history``,
``settle_s``, ``label_window`` and ``alerts`` come from the project's ``conf/`` (and
``monitor.KEY=VALUE`` arguments), never from the baseline, whose ``constraints.json``
holds only the checks' settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from assayml.config.monitor_schema import OPERATIONAL_KEYS, MonitorConfig
from assayml.errors import ConfigError


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(operational overrides, overrides of the baseline's settings)."""
    operational, checks = [], []
    for override in overrides:
        key = override.partition("=")[0].removeprefix("monitor.")
        first = key.split(".")[0]
        (operational if first in OPERATIONAL_KEYS else checks).append(override)
    return operational, checks


def operational_settings(overrides: list[str], config_dir: str | Path = "conf") -> MonitorConfig:
    """``monitor.*`` composed from ``config_dir`` when it holds a config (defaults when
    not), with ``overrides`` (``monitor.schedule='0 * * * *'``) applied and checked."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    node = OmegaConf.structured(MonitorConfig)
    try:
        if (Path(config_dir) / "config.yaml").is_file():
            from assayml.config.load import compose

            node = OmegaConf.merge(node, compose([], config_dir).monitor)
        for override in overrides:
            key, _, value = override.partition("=")
            OmegaConf.update(node, key.removeprefix("monitor."), _value(value))
        return OmegaConf.to_object(node)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        raise ConfigError(f"monitor.{key}: {str(err).splitlines()[0]}") from None
    except (ValueError, TypeError) as err:  # a schema's __post_init__
        raise ConfigError(f"{Path(config_dir) / 'monitor'}: {err}") from None


def _value(text: str):
    """A YAML value (``null``, ``3``, ``[a, b]``, ``'0 * * * *'``), else the text as it
    is: a cron line unquoted by the shell (``*/5 * * * *``) is no YAML, but is meant."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def with_operations(baseline, operational: MonitorConfig):
    """``baseline`` whose settings carry the operational keys of ``operational``."""
    changes = {key: getattr(operational, key) for key in OPERATIONAL_KEYS}
    return dataclasses.replace(baseline, settings=dataclasses.replace(baseline.settings, **changes))
