"""The experiment loggers named by the ``logger`` group, each given the run's hyperparameters.

``logger=dvclive|csv|tensorboard|mlflow`` makes one, ``logger=many`` those in
``logger.loggers`` at once, ``logger.custom.<name>`` adds the user's own (any Lightning
``Logger`` by ``_target_``). Every one receives the same hyperparameters: the resolved
config flattened to ``group/key`` names (:func:`run_hyperparameters`), through
``log_hyperparams`` (DVCLive's ``log_params``); ``tags`` go to MLflow as run tags too.
"""

from __future__ import annotations

import dataclasses
import json
import os
from enum import Enum
from pathlib import Path
from typing import Any

from assayml.config.schema import AssayConfig, LoggerConfig, LoggerKind
from assayml.errors import ConfigError

EXTRAS = {LoggerKind.tensorboard: "tensorboard", LoggerKind.mlflow: "mlflow"}


def build_loggers(cfg: AssayConfig) -> list[Any]:
    """The configured Lightning loggers (an empty list for ``logger=none`` and no custom)."""
    from assayml.train.callbacks import instantiate_named

    log = cfg.logger
    if log.name is LoggerKind.many:
        made = [_build_one(log, kind, _many_dir(log, kind), cfg) for kind in log.loggers]
    elif log.name is LoggerKind.none:
        made = []
    else:
        made = [_build_one(log, log.name, log.save_dir, cfg)]
    return made + list(instantiate_named(log.custom, "logger.custom").values())


def log_run_hyperparameters(loggers: list[Any], cfg: AssayConfig) -> None:
    """Send the flattened config to every logger (what Lightning's ``log_hyperparams``
    would send for a module's ``save_hyperparameters``)."""
    params = run_hyperparameters(cfg)
    for logger in loggers:
        if "DVCLiveLogger" in {kind.__name__ for kind in type(logger).__mro__}:
            skip_idle_studio_sync(logger)
        logger.log_hyperparams(params)


def dvclive_experiment(logger):
    """DVCLive's ``Live``, created now: in a git repository without a commit DVCLive fails
    inside its own set-up (it asks git for HEAD before checking there is one), which would
    otherwise end the run with a traceback after prepare and features."""
    from scmrepo.exceptions import SCMError

    try:
        return logger.experiment
    except SCMError as err:
        raise ConfigError(
            f"logger=dvclive: {err}: DVCLive needs a git repository with at least one "
            "commit (git add -A && git commit), or no repository; or use logger=csv"
        ) from err


def skip_idle_studio_sync(logger) -> None:
    """DVCLive re-reads its whole params file at every sync (twice an epoch) to post it to
    DVC Studio, and does so even when no Studio is configured: with the run's ~200
    hyperparameters that parse took ~0.1 s a sync here, more than a small model's whole
    training. Without a Studio config there is nothing to post, so the sync skips it.
    (DVCLive keeps that config in a private attribute; with one set, nothing changes.)"""
    live = dvclive_experiment(logger)
    if not getattr(live, "_dvc_studio_config", None):
        live.post_data_to_studio = lambda: None


def run_hyperparameters(cfg: AssayConfig) -> dict[str, Any]:
    """The resolved config as ``{"group/key": value}``: scalars as they are, lists as JSON
    text (so every logger can store them), enums by name. The declared input schema
    (``data.columns``, a column each) is data description rather than a hyperparameter; it
    stays in params.yaml and the records, and leaving it out here halves what each logger
    writes."""
    # dataclasses.asdict, not canonical_json: the same values without building an OmegaConf
    # tree of the whole schema (~0.2 s a call here), which the config hash needs and this
    # does not.
    resolved = _plain(dataclasses.asdict(cfg))
    if isinstance(resolved.get("data"), dict):
        resolved["data"].pop("columns", None)
    return _flatten(resolved)


def _plain(node: Any) -> Any:
    """Enums by name, tuples as lists: JSON's types."""
    if isinstance(node, Enum):
        return node.name
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}/"))
        return out
    key = prefix.rstrip("/")
    if isinstance(node, (list, dict)):
        return {key: json.dumps(node)}
    return {key: node}


def _many_dir(cfg: LoggerConfig, kind: LoggerKind) -> str:
    return cfg.dvclive_dir if kind is LoggerKind.dvclive else f"{cfg.save_dir}/{kind.name}"


def _build_one(cfg: LoggerConfig, kind: LoggerKind, save_dir: str, run: AssayConfig):
    if kind in EXTRAS:
        _require(EXTRAS[kind])
    resume = run.train.resume or run.ckpt_path is not None  # DVCLive continues its steps
    if kind is LoggerKind.dvclive:
        from assayml.train.dvclive_logger import FastDVCLiveLogger

        # dvc.yaml declares DVCLive's metrics and plots, and DVC makes the experiments:
        # DVCLive must write neither.
        return FastDVCLiveLogger(dir=save_dir, dvcyaml=None, save_dvc_exp=False, resume=resume)
    from lightning.pytorch import loggers

    if kind is LoggerKind.csv:
        return loggers.CSVLogger(save_dir=save_dir, name=cfg.experiment_name)
    if kind is LoggerKind.tensorboard:
        # hp_metric: TensorBoard's placeholder metric for its hparams view; not ours.
        return loggers.TensorBoardLogger(
            save_dir=save_dir, name=cfg.experiment_name, default_hp_metric=False
        )
    uri = cfg.tracking_uri
    if uri is None:
        # A local file store needs no server or database; MLflow 3 asks for this opt-in.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = Path(save_dir).resolve().as_uri()
    tags = {tag: "true" for tag in run.tags}  # MLflow's tags are key-value pairs
    return loggers.MLFlowLogger(experiment_name=cfg.experiment_name, tracking_uri=uri, tags=tags)


def _require(extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(extra) is None:
        raise ConfigError(
            f"logger={extra} needs the '{extra}' extra: pip install 'assayml[{extra}]'"
        )
