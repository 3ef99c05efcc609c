"""The experiment logger named by ``logger.name``."""

from __future__ import annotations

import os
from pathlib import Path

from assayml.config.schema import LoggerConfig, LoggerKind
from assayml.errors import ConfigError


def build_logger(cfg: LoggerConfig, resume: bool = False):
    """A Lightning logger, or ``False`` for ``logger=none``."""
    if cfg.name is LoggerKind.none:
        return False
    if cfg.name is LoggerKind.dvclive:
        from dvclive.lightning import DVCLiveLogger

        # dvc.yaml declares DVCLive's metrics and plots, and DVC makes the experiments:
        # DVCLive must write neither.
        return DVCLiveLogger(dir=cfg.save_dir, dvcyaml=None, save_dvc_exp=False, resume=resume)
    from lightning.pytorch import loggers

    if cfg.name is LoggerKind.csv:
        return loggers.CSVLogger(save_dir=cfg.save_dir, name=cfg.experiment_name)
    if cfg.name is LoggerKind.tensorboard:
        _require("tensorboard", "tensorboard")
        return loggers.TensorBoardLogger(save_dir=cfg.save_dir, name=cfg.experiment_name)
    _require("mlflow", "mlflow")
    uri = cfg.tracking_uri
    if uri is None:
        # A local file store needs no server or database; MLflow 3 asks for this opt-in.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = Path(cfg.save_dir).resolve().as_uri()
    return loggers.MLFlowLogger(experiment_name=cfg.experiment_name, tracking_uri=uri)


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"logger={module} needs the '{extra}' extra: pip install 'assayml[{extra}]'"
        )
