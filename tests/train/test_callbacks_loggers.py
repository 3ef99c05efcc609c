"""The callbacks group (named, removable, replaceable, checked) and several loggers at
once, each holding the run's hyperparameters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor

from assayml.cli.main import main
from assayml.errors import ConfigError
from assayml.train.fit import configured_callbacks, fused_steps
from tests.stages.helpers import run_stages


class CountEpochs(Callback):
    """A user's own callback, by _target_."""

    epochs = 0

    def __init__(self, step: int = 1) -> None:
        self.step = step

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        CountEpochs.epochs += self.step


class CountSteps(Callback):
    """A user's callback that watches single optimiser steps."""

    steps = 0

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        CountSteps.steps += 1


STOP_AT_ONCE = ("trainer.max_epochs=6", "train.early_stopping.patience=1")
STOP_AT_ONCE += ("train.early_stopping.min_delta=10",)  # no epoch improves by 10


@pytest.mark.parametrize(
    "off", ["callbacks.early_stopping=null", "train.early_stopping.enabled=false"]
)
def test_early_stopping_is_removable(make_cfg, off) -> None:
    assert not any(isinstance(c, EarlyStopping) for c in configured_callbacks(make_cfg(off))[1])
    details = run_stages(make_cfg(*STOP_AT_ONCE, off), ("prepare", "features", "train"))
    assert details["train"].details["epochs"] == 6 and not details["train"].details["stopped_early"]


def test_callbacks_are_changed_and_added_by_override(make_cfg) -> None:
    cfg = make_cfg(
        "callbacks.lr_monitor.logging_interval=step",
        f"+callbacks.mine._target_={__name__}.CountEpochs",
        "+callbacks.mine.step=10",
    )
    checkpoint, callbacks = configured_callbacks(cfg)
    assert Path(checkpoint.dirpath).name == "checkpoints" and checkpoint.monitor == "val/loss"
    monitor = next(c for c in callbacks if isinstance(c, LearningRateMonitor))
    assert monitor.logging_interval == "step"
    CountEpochs.epochs = 0
    run_stages(cfg, ("prepare", "features", "train"))  # logger=none: no LR monitor, no error
    assert CountEpochs.epochs == 30


@pytest.mark.parametrize(
    "override, fused",
    [
        ("trainer.max_epochs=2", 32),  # the stock callbacks act per epoch
        ("callbacks.early_stopping=null", 32),
        (f"+callbacks.mine._target_={__name__}.CountSteps", 1),  # the user's own
        ("callbacks.lr_monitor.logging_interval=step", 1),
        ("+callbacks.model_checkpoint.every_n_train_steps=5", 1),
        ("trainer.max_steps=40", 1),
        ("callbacks.lr_monitor.logging_interval=null", 1),  # every step and epoch
        ("trainer.val_check_interval=5", 1),  # batches: fused, groups
        ("trainer.val_check_interval=0.5", 1),
        ("trainer.val_check_interval=1.0", 32),  # once an epoch
    ],
)
def test_fusing_is_off_wherever_something_watches_single_steps(make_cfg, override, fused) -> None:
    assert fused_steps(make_cfg(override)) == fused


def test_a_users_callback_sees_every_optimiser_step(make_cfg) -> None:
    cfg = make_cfg(f"+callbacks.mine._target_={__name__}.CountSteps", "train.batch_size=32")
    CountSteps.steps = 0
    records = run_stages(cfg, ("prepare", "features", "train"))
    details = records["train"].details
    assert CountSteps.steps == details["steps"] > 0
    assert details["steps"] == details["epochs"] * math.ceil(details["rows"]["train"] / 32)


def test_without_a_checkpoint_callback_the_last_weights_are_kept(make_cfg, project) -> None:
    records = run_stages(
        make_cfg("callbacks.model_checkpoint=null"), ("prepare", "features", "train")
    )
    assert records["train"].details["best_epoch"] is None
    assert not list((project / "checkpoints").glob("*.ckpt"))


@pytest.mark.parametrize(
    "override, named",
    [
        ("+callbacks.early_stopping.patiense=3", "callbacks.early_stopping.patiense"),
        ("+callbacks.mine._target_=no.such.Callback", "callbacks.mine._target_"),
        ("+logger.custom.mine._target_=lightning.pytorch.loggers.CSVLogger", "save_dir"),
    ],
)
def test_a_misspelt_callback_or_logger_key_is_named(make_cfg, override, named) -> None:
    cfg = make_cfg(override)
    run_stages(cfg, ("prepare", "features"))
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        run_stages(cfg, ("train",))


@pytest.mark.parametrize("key", ["callbacks.early_stopping.patiense=3", "logger.nmae=csv"])
def test_a_misspelt_key_exits_2_naming_it(make_cfg, capsys, key) -> None:
    run_stages(make_cfg(), ("prepare", "features"))
    assert main(["train", "logger=none", "trainer.max_epochs=1", key]) == 2
    assert key.split("=")[0].rsplit(".", 1)[1] in capsys.readouterr().err


def test_many_loggers_at_once_each_with_the_hyperparameters(make_cfg, project) -> None:
    cfg = make_cfg(
        "logger=many",
        "logger.loggers=[dvclive,csv,tensorboard,mlflow]",
        "trainer.max_epochs=1",
        "tags=[smoke,many]",
    )
    run_stages(cfg, ("prepare", "features", "train"))
    logs = project / "logs"
    tensorboard = yaml.safe_load(next((logs / "tensorboard").rglob("hparams.yaml")).read_text())
    csv = yaml.safe_load(next((logs / "csv").rglob("hparams.yaml")).read_text())
    dvclive = yaml.safe_load((project / "dvclive" / "params.yaml").read_text())
    for params in (tensorboard, csv, dvclive):
        assert params["seed"] == 42 and params["model/lr"] == 0.001
        assert json.loads(params["tags"]) == ["smoke", "many"]
    assert (project / "dvclive" / "metrics.json").is_file()  # where dvc.yaml reads it
    mlflow_params = {p.name for p in (logs / "mlflow").rglob("params/*")}
    assert {"seed", "model", "trainer"} <= mlflow_params  # "model/lr" nests as model/lr
    mlflow_tags = {p.name for p in (logs / "mlflow").rglob("tags/*")}
    assert {"smoke", "many"} <= mlflow_tags


@pytest.mark.parametrize("logger", ["csv", "tensorboard"])
def test_a_single_logger_gets_the_hyperparameters_too(make_cfg, project, logger) -> None:
    run_stages(
        make_cfg(f"logger={logger}", "trainer.max_epochs=1"), ("prepare", "features", "train")
    )
    params = yaml.safe_load(next((project / "logs" / logger).rglob("hparams.yaml")).read_text())
    assert params["train/batch_size"] == 64


def test_dvclive_in_a_repository_without_a_commit_exits_2(make_cfg, project) -> None:
    """A fresh `git init` with no commit: DVCLive fails inside its own set-up; the run
    stops with exit 2 saying what to do, not a traceback."""
    import subprocess

    from assayml.errors import ConfigError
    from assayml.train.loggers import build_loggers, log_run_hyperparameters

    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    cfg = make_cfg("logger=dvclive")
    with pytest.raises(ConfigError, match="at least one commit"):
        log_run_hyperparameters(build_loggers(cfg), cfg)
