"""Fit a network with Lightning: seeded, deterministic, early-stopped, checkpointed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from assayml.config.schema import AssayConfig, UncertaintyMethod
from assayml.errors import ArtifactError
from assayml.models.build import architecture_kwargs, build_network
from assayml.models.ensemble import stack_members
from assayml.models.heads import head_for
from assayml.train.best_members import BestMembers
from assayml.train.datamodule import FeatureDataModule
from assayml.train.run_state import check_resumable

BEST = "best"
LAST = "last"


@dataclass
class FitResult:
    state_dict: dict[str, torch.Tensor]  # the best checkpoint's network weights
    best_score: float | None  # of train.monitor at the best checkpoint
    best_epoch: int | None  # ensembles: the epoch most members were best at
    net: torch.nn.Module  # the trained network (single or ensemble) with those weights
    epochs: int  # epochs run
    steps: int  # optimiser steps taken
    metrics: dict[str, float] = field(default_factory=dict)  # logged at the last epoch
    stopped_early: bool = False
    resumed_from: str | None = None  # the checkpoint a resumed run continued from
    processes: int = 1  # DDP world size


def fit_network(
    cfg: AssayConfig,
    data: FeatureDataModule,
    out_features: int,
    task: str,
    worker: bool = False,
    **trainer_kwargs: Any,
) -> FitResult:
    """Train the configured network on ``data``'s train split, selecting the best epoch on
    its val split; ``data``'s batch size, fused steps and seed are set from ``cfg``. Under
    ``strategy=ddp`` rank 0 (this call) starts the other ranks (``worker=True`` calls, which
    log nothing and leave checkpoints alone)."""
    from assayml.train.distributed import cluster_plugins, ddp_workers

    module = build_module(cfg, data, out_features, task)
    checkpoint, callbacks = _callbacks(cfg)
    members = BestMembers() if data.members else None
    callbacks += [members] if members else []
    from assayml.verbosity import quiet

    if cfg.trainer.enable_progress_bar and not quiet():
        from assayml.train.progress import build_progress

        callbacks.append(build_progress(len(data.train_dataloader())))
    if cfg.tune.trial_id is not None:
        from assayml.experiments.tune import pruning_callbacks

        callbacks += pruning_callbacks(cfg.tune)
    if module.fused:
        trainer_kwargs.setdefault("gradient_clip_val", None)  # the module clips
    if worker:
        trainer_kwargs["logger"] = False
    trainer_kwargs.setdefault("plugins", cluster_plugins(cfg, worker))
    trainer = build_trainer(cfg, callbacks, **trainer_kwargs)
    resumed_from = _resume_path(cfg, clean=not worker)
    if worker:
        trainer.fit(module, datamodule=data, ckpt_path=resumed_from)
    else:
        with ddp_workers(cfg):
            trainer.fit(module, datamodule=data, ckpt_path=resumed_from)
    state, best_epoch = module.net.state_dict(), None
    if members is not None and members.state is not None:
        state = members.state
        best_epoch = max(set(members.best_epoch), key=members.best_epoch.count)
    elif checkpoint.best_model_path:
        state, best_epoch = read_checkpoint(checkpoint.best_model_path)
    module.net.load_state_dict(state)
    early = next((c for c in callbacks if type(c).__name__ == "EarlyStopping"), None)
    return FitResult(
        state_dict=state,
        best_score=_float(checkpoint.best_model_score),
        best_epoch=best_epoch,
        net=module.net.eval(),
        epochs=trainer.current_epoch,
        steps=trainer.global_step,
        metrics={k: _float(v) for k, v in trainer.callback_metrics.items()},
        stopped_early=bool(early is not None and early.stopped_epoch > 0),
        resumed_from=resumed_from,
        processes=trainer.world_size,
    )


def build_module(cfg: AssayConfig, data: FeatureDataModule, out_features: int, task: str):
    """Seeded network (or ensemble) inside the LightningModule; sets up ``data`` to match."""
    import lightning.pytorch as pl

    from assayml.train.module import AssayModule

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    net = build_model(cfg, data.in_features, out_features)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)  # the run's own draws (dropout)
    fused = fused_steps(cfg)
    data.batch_size, data.fused_steps, data.seed = cfg.train.batch_size, fused, cfg.seed
    data.members = getattr(net, "members", 0)
    data.bootstrap = cfg.uncertainty.bootstrap
    return AssayModule(
        net,
        task,
        cfg.model.lr,
        cfg.model.weight_decay,
        cfg.model.optimizer,
        batch_size=cfg.train.batch_size,
        fused_steps=fused,
        gradient_clip_val=cfg.trainer.gradient_clip_val,
        head=model_head(cfg, task),
        scheduler=cfg.model.scheduler,
        monitor=cfg.train.monitor,
        gradient_clip_algorithm=getattr(cfg.trainer, "gradient_clip_algorithm", None),
    )


def build_trainer(cfg: AssayConfig, callbacks: list[Any], **overrides: Any):
    """A Lightning Trainer from the ``trainer`` group; ``overrides`` win (tests, benchmarks)."""
    import lightning.pytorch as pl

    from assayml.train.loggers import build_logger
    from assayml.verbosity import quiet

    t = cfg.trainer
    if t.accelerator in ("gpu", "cuda", "auto") and t.deterministic:
        # cuBLAS needs a fixed workspace for deterministic matrix products on CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    kwargs: dict[str, Any] = {
        "accelerator": t.accelerator,
        "devices": t.devices,
        "strategy": t.strategy,
        "num_nodes": t.num_nodes,
        "precision": t.precision,
        "max_epochs": t.max_epochs,
        "min_epochs": t.min_epochs,
        "deterministic": t.deterministic,
        "gradient_clip_val": t.gradient_clip_val,
        "enable_progress_bar": t.enable_progress_bar and not quiet(),
        "limit_train_batches": t.limit_train_batches,
        "limit_val_batches": t.limit_val_batches,
        "logger": build_logger(cfg.logger, resume=cfg.train.resume),
        "callbacks": callbacks,
        "default_root_dir": cfg.paths.checkpoints_dir,
        "num_sanity_val_steps": 0,
        "enable_model_summary": False,
        "log_every_n_steps": 1,  # only epoch-level values are logged (module.py)
    }
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def model_head(cfg: AssayConfig, task: str) -> str:
    return head_for(task, cfg.uncertainty.method.name, cfg.uncertainty.gaussian_head)


def build_model(cfg: AssayConfig, in_features: int, out_features: int) -> torch.nn.Module:
    """The configured network, or for ``uncertainty=ensemble`` its members stacked into one;
    member i is initialised from seed + i, as it would be if trained alone."""
    arch = architecture_kwargs(cfg.model)
    if cfg.uncertainty.method is not UncertaintyMethod.ensemble:
        return build_network(cfg.model._target_, arch, in_features, out_features)
    members = []
    for index in range(cfg.uncertainty.members):
        torch.manual_seed(cfg.seed + index)
        members.append(build_network(cfg.model._target_, arch, in_features, out_features))
    return stack_members(members)


def fused_steps(cfg: AssayConfig) -> int:
    """``train.fused_steps``, or 1 where every step must pass through Lightning's automatic
    optimisation: under a distributed strategy (one backward per wrapped forward), with
    16-bit mixed precision (Lightning's gradient scaler), with gradient accumulation (which
    Lightning refuses in manual optimisation), and with a ReduceLROnPlateau stepped every
    step (its metric is only known per Lightning step)."""
    from assayml.train.optim import is_plateau

    t = cfg.trainer
    devices = t.devices if isinstance(t.devices, int) else 2  # a list or "auto": maybe many
    strategy = str(t.strategy)
    distributed = "ddp" in strategy or "fsdp" in strategy or "deepspeed" in strategy
    accumulate = getattr(t, "accumulate_grad_batches", 1) or 1
    scheduler = cfg.model.scheduler
    plateau_per_step = is_plateau(scheduler) and scheduler.get("interval") == "step"
    if distributed or devices > 1 or t.num_nodes > 1 or str(t.precision).startswith("16"):
        return 1
    if accumulate != 1 or plateau_per_step:
        return 1
    return cfg.train.fused_steps


def _callbacks(cfg: AssayConfig):
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    mode = cfg.train.mode.name
    checkpoint = ModelCheckpoint(
        dirpath=cfg.paths.checkpoints_dir,
        filename=BEST,
        monitor=cfg.train.monitor,
        mode=mode,
        save_top_k=1,
        save_last=True,
        enable_version_counter=False,
    )
    from assayml.train.run_state import RunStateCheckpoint

    callbacks: list[Any] = [checkpoint, RunStateCheckpoint(cfg)]
    stop = cfg.train.early_stopping
    if stop.enabled:
        callbacks.append(
            EarlyStopping(
                monitor=cfg.train.monitor,
                mode=mode,
                patience=stop.patience,
                min_delta=stop.min_delta,
            )
        )
    return checkpoint, callbacks


def _resume_path(cfg: AssayConfig, clean: bool = True) -> str | None:
    """The last checkpoint when resuming; otherwise start clean (old checkpoint files
    removed, unless ``clean`` is off (DDP workers): only ``*.ckpt`` directly in the folder,
    never the folder)."""
    directory = Path(cfg.paths.checkpoints_dir)
    last = directory / f"{LAST}.ckpt"
    if cfg.train.resume:
        if not last.is_file():
            raise ArtifactError(f"{last}: no checkpoint to resume from (train.resume=true)")
        check_resumable(load_checkpoint(str(last)), cfg, str(last))  # before Lightning reads it
        return str(last)
    for stale in directory.glob("*.ckpt") if directory.is_dir() and clean else ():
        stale.unlink()
    return None


def load_checkpoint(path: str) -> dict[str, Any]:
    """A Lightning checkpoint, loaded without unpickling code (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a bad file
        raise ArtifactError(f"{path}: unreadable checkpoint: {err}") from err


def read_checkpoint(path: str) -> tuple[dict[str, torch.Tensor], int]:
    """The network weights of a Lightning checkpoint and the epoch it was saved after
    (1-based)."""
    checkpoint = load_checkpoint(path)
    try:
        prefix = "net."
        state = {
            k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
        }
        return state, int(checkpoint["epoch"]) + 1
    except Exception as err:  # torch raises many kinds for a bad file
        raise ArtifactError(f"{path}: unreadable checkpoint: {err}") from err


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.item() if hasattr(value, "item") else value)
