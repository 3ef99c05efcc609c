"""Optimiser and LR scheduler from config: short names, `_partial_` nodes, fused steps that
step a scheduler as Lightning would, and misspelt keys refused by name."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import OmegaConf

from assayml.config.load import to_yaml
from assayml.errors import ConfigError
from assayml.train.datamodule import FeatureDataModule, SplitTensors
from assayml.train.fit import build_module, fused_steps
from tests import cli_fork
from tests.conftest import TINY, cli_env

STEP_LR = "{_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 1, gamma: 0.5}"
STEP_LR_PER_STEP = (
    "{_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 5, gamma: 0.5,"
    " interval: step}"
)
# Never improves by 10, so with patience 0 it halves the rate after every epoch but the first.
PLATEAU = (
    "{_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, _partial_: true, factor: 0.5,"
    " patience: 0, threshold: 10, threshold_mode: abs}"
)
RMSPROP = "{_target_: torch.optim.RMSprop, _partial_: true, lr: 0.01, alpha: 0.9}"
ROWS, BATCH, EPOCHS = 192, 16, 4  # 12 optimiser steps an epoch


def tiny_data() -> FeatureDataModule:
    gen = torch.Generator().manual_seed(0)
    x, xv = torch.randn(ROWS, 6, generator=gen), torch.randn(64, 6, generator=gen)
    return FeatureDataModule(
        SplitTensors(x, (x[:, 0] > 0).long()), SplitTensors(xv, (xv[:, 0] > 0).long()), BATCH
    )


def fit(cfg, root: Path) -> tuple[pl.Trainer, pl.LightningModule]:
    """Our module on tiny data through a real, bare Trainer (no checkpoints, no logger)."""
    data = tiny_data()
    module = build_module(cfg, data, 2, "binary")
    trainer = pl.Trainer(
        max_epochs=cfg.trainer.max_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        num_sanity_val_steps=0,
        default_root_dir=root,
    )
    trainer.fit(module, datamodule=data)
    return trainer, module


def lr_of(trainer: pl.Trainer) -> float:
    return trainer.optimizers[0].param_groups[0]["lr"]


def optimiser_steps(trainer: pl.Trainer, module: pl.LightningModule) -> int:
    """Fused, a Lightning step (global_step) is a group of optimiser steps, which the
    module counts; each group's last step goes through Lightning."""
    if not module.fused:
        return trainer.global_step
    groups_per_epoch = -(-ROWS // (BATCH * module.trainer.datamodule.fused_steps))
    assert trainer.global_step == EPOCHS * groups_per_epoch
    return module.optimizer_steps


def run_overrides(*extra: str) -> tuple[str, ...]:
    return (f"trainer.max_epochs={EPOCHS}", f"train.batch_size={BATCH}", "model.lr=0.01", *extra)


@pytest.mark.parametrize(
    "name,kind,extra",
    [
        ("adam", torch.optim.Adam, {}),
        ("adamw", torch.optim.AdamW, {}),
        ("sgd", torch.optim.SGD, {"momentum": 0.9}),
    ],
)
def test_short_names_build_their_optimiser(make_cfg, project, name, kind, extra) -> None:
    trainer, _ = fit(
        make_cfg(*run_overrides(f"model.optimizer={name}", "model.weight_decay=0.001")), project
    )
    optimizer = trainer.optimizers[0]
    assert type(optimizer) is kind and not trainer.lr_scheduler_configs
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.01, 0.001)
    assert all(group[k] == v for k, v in extra.items())


@pytest.mark.parametrize("fused", [1, 4])
def test_a_target_optimiser_is_the_one_used(make_cfg, project, fused) -> None:
    cfg = make_cfg(*run_overrides(f"model.optimizer={RMSPROP}", f"train.fused_steps={fused}"))
    trainer, module = fit(cfg, project)
    optimizer = trainer.optimizers[0]
    assert type(optimizer) is torch.optim.RMSprop
    group = optimizer.param_groups[0]
    # Its own lr wins over model.lr; model.weight_decay fills the key it leaves out.
    assert (group["lr"], group["alpha"], group["weight_decay"]) == (0.01, 0.9, 0.0001)
    assert optimiser_steps(trainer, module) == EPOCHS * ROWS // BATCH


@pytest.mark.parametrize(
    "scheduler,expected_lr",
    [
        (STEP_LR, 0.01 * 0.5**EPOCHS),  # halved after every epoch
        (STEP_LR_PER_STEP, 0.01 * 0.5 ** (EPOCHS * ROWS // BATCH // 5)),  # every 5 steps
        (PLATEAU, 0.01 * 0.5 ** (EPOCHS - 1)),  # every epoch but the first
    ],
    ids=["step-lr-epoch", "step-lr-step", "plateau"],
)
def test_schedulers_step_on_schedule_fused_or_not_with_equal_weights(
    make_cfg, project, scheduler, expected_lr
) -> None:
    """Fused steps step the scheduler themselves, where Lightning would: same learning
    rates, same weights, every optimiser step counted."""
    results = {}
    for fused in (1, 4):
        cfg = make_cfg(*run_overrides(f"model.scheduler={scheduler}", f"train.fused_steps={fused}"))
        assert fused_steps(cfg) == fused
        trainer, module = fit(cfg, project)
        assert lr_of(trainer) == pytest.approx(expected_lr)
        assert optimiser_steps(trainer, module) == EPOCHS * ROWS // BATCH
        results[fused] = module.net.state_dict()
    assert all(torch.equal(results[1][k], v) for k, v in results[4].items())


def test_plateau_watches_train_monitor_unless_told(make_cfg, project) -> None:
    trainer, _ = fit(
        make_cfg(*run_overrides(f"model.scheduler={PLATEAU}", "train.fused_steps=1")), project
    )
    assert trainer.lr_scheduler_configs[0].monitor == "val/loss"
    named = make_cfg(
        *run_overrides(
            f"model.scheduler={PLATEAU}", "+model.scheduler.monitor=val/acc", "train.fused_steps=1"
        )
    )
    assert fit(named, project)[0].lr_scheduler_configs[0].monitor == "val/acc"


def test_fused_steps_refuse_a_plateau_metric_the_run_does_not_log(make_cfg, project) -> None:
    cfg = make_cfg(*run_overrides(f"model.scheduler={PLATEAU}", "+model.scheduler.monitor=val/auc"))
    with pytest.raises(ConfigError, match="ReduceLROnPlateau watches 'val/auc'"):
        fit(cfg, project)


def test_a_per_step_plateau_scheduler_falls_back_to_automatic_optimisation(make_cfg) -> None:
    cfg = make_cfg(f"model.scheduler={PLATEAU}", "+model.scheduler.interval=step")
    assert fused_steps(cfg) == 1


def test_same_seed_same_weights_with_a_scheduler(make_cfg, project) -> None:
    base = run_overrides("model/scheduler=cosine", "model.dropout=0.3")
    first = fit(make_cfg(*base), project)[1].net.state_dict()
    second = fit(make_cfg(*base), project)[1].net.state_dict()
    assert all(torch.equal(first[k], v) for k, v in second.items())
    other = fit(make_cfg(*base, "seed=1"), project)[1].net.state_dict()
    assert not all(torch.equal(first[k], v) for k, v in other.items())


@pytest.mark.parametrize("option", ["step", "cosine", "plateau"])
def test_named_scheduler_options_compose_and_round_trip(make_cfg, option) -> None:
    cfg = make_cfg(f"model/scheduler={option}")
    assert cfg.model.scheduler["_partial_"] is True
    # params.yaml holds the node as plain YAML; read back, it validates to the same config.
    again = OmegaConf.create(to_yaml(cfg))
    from assayml.config.load import to_typed

    assert to_typed(again).model.scheduler == cfg.model.scheduler


@pytest.mark.parametrize(
    "override,named",
    [
        ("model/scheduler=step +model.scheduler.step_sz=3", "model.scheduler.step_sz"),
        ("model/scheduler=step model.scheduler.step_sz=3", "model.scheduler.step_sz"),
        (
            "model.optimizer={_target_: torch.optim.RMSprop, _partial_: true, alfa: 0.9}",
            "model.optimizer.alfa",
        ),
        ("model.optimizer=adom", "model.optimizer"),
        (
            "model.scheduler={_target_: torch.optim.Adam, _partial_: true}",
            "not a torch.optim.lr_scheduler",
        ),
        (
            "model.optimizer={_target_: torch.optim.lr_scheduler.StepLR, _partial_: true}",
            "not a torch.optim.Optimizer",
        ),
        (
            "model.scheduler={_target_: torch.optim.lr_scheduler.StepLR, step_size: 3}",
            "_partial_: true",
        ),
        (
            "model.scheduler={_target_: torch.optim.lr_scheduler.StepLR, _partial_: true}",
            "model.scheduler.step_size",
        ),
        ("model/scheduler=step model.scheduler.interval=hour", "model.scheduler.interval"),
    ],
)
def test_bad_optimiser_and_scheduler_keys_are_named(make_cfg, override, named) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        make_cfg(*override.split(" ") if override.startswith("model/") else [override])


@pytest.mark.parametrize(
    "override,named",
    [
        ("model.scheduler.step_sz=3", "model.scheduler.step_sz"),
        ("+model.scheduler.step_sz=3", "model.scheduler.step_sz"),
    ],
)
def test_the_command_line_exits_2_naming_a_misspelt_scheduler_key(project, override, named) -> None:
    result = cli_fork.run(
        [
            sys.executable,
            "-m",
            "assayml.cli.main",
            "train",
            *TINY,
            "model/scheduler=step",
            override,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert named in result.stderr


@pytest.mark.parametrize(
    "overrides",
    [[f"model.scheduler={STEP_LR}"], ["model/scheduler=step", "model.scheduler.step_size=1"]],
)
def test_dvc_composes_scheduler_overrides_the_way_we_do(tmp_path: Path, overrides) -> None:
    """`dvc exp run -S ...` composes params.yaml with DVC's own code; a stage reads it."""
    from dvc.utils.hydra import compose_and_dump

    from assayml.config.load import compose, load_params, to_typed
    from assayml.config.params_file import composed_yaml
    from tests.conftest import REPO

    params = tmp_path / "params.yaml"
    compose_and_dump(params, str(REPO / "conf"), None, "config", str(REPO), overrides)
    assert params.read_text() == composed_yaml(compose(overrides, REPO / "conf"))
    assert to_typed(load_params(params)).model.scheduler["step_size"] == 1


def test_the_model_card_names_a_target_optimiser_and_its_scheduler(make_cfg, project) -> None:
    """The train stage end to end with a `_target_` optimizer and a scheduler: the card
    records the optimizer's target, its effective learning rate and the scheduler node."""
    import json

    from assayml.stages.table import get_stage

    cfg = make_cfg(f"model.optimizer={RMSPROP}", "model/scheduler=step")
    for name in ("prepare", "features", "train"):
        get_stage(name).run(cfg)
    card = json.loads((project / "models/model_card.json").read_text())
    training = card["training"]
    assert training["optimizer"] == "torch.optim.RMSprop"
    assert training["lr"] == 0.01
    assert training["scheduler"]["_target_"] == "torch.optim.lr_scheduler.StepLR"
