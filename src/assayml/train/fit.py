"""Fit a network with Lightning: seeded, deterministic, early-stopped, checkpointed."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from assayml.config.schema import AssayConfig, UncertaintyMethod
from assayml.errors import ArtifactError, ConfigError
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
    debugger: dict[str, Any] | None = None  # per rule: fired, step, figure (train/debugger.py)
    stopped_by: str | None = None  # a debugger rule whose action stopped training


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
    from assayml.train.debugger import build_debugger
    from assayml.train.distributed import cluster_plugins, ddp_workers

    module = build_module(cfg, data, out_features, task)
    from assayml.train.run_state import RunStateCheckpoint

    checkpoint, callbacks = configured_callbacks(cfg)
    callbacks.append(RunStateCheckpoint(cfg))
    members = BestMembers() if data.members else None
    callbacks += [members] if members else []
    debugger = build_debugger(cfg.debugger)
    callbacks += [debugger] if debugger else []
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
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:  # Lightning checks some trainer values only when fitting (limit_*_batches)
        if worker:
            trainer.fit(module, datamodule=data, ckpt_path=resumed_from)
        else:
            with ddp_workers(cfg):
                trainer.fit(module, datamodule=data, ckpt_path=resumed_from)
    except MisconfigurationException as err:
        raise ConfigError(f"trainer: {err}") from err
    state, best_epoch = module.net.state_dict(), None
    if members is not None and members.state is not None:
        state = members.state
        best_epoch = max(set(members.best_epoch), key=members.best_epoch.count)
    elif checkpoint is not None and checkpoint.best_model_path:
        # Empty without a validated epoch (trainer.fast_dev_run): the last weights stand.
        state, best_epoch = read_checkpoint(checkpoint.best_model_path)
    module.net.load_state_dict(state)
    early = next((c for c in callbacks if type(c).__name__ == "EarlyStopping"), None)
    return FitResult(
        state_dict=state,
        best_score=_float(checkpoint.best_model_score) if checkpoint is not None else None,
        best_epoch=best_epoch,
        net=module.net.eval(),
        epochs=trainer.current_epoch - (debugger.skipped_epochs if debugger else 0),
        steps=module.optimizer_steps if module.fused else trainer.global_step,
        # NaN and inf left out: JSON has none (a NaN loss is the debugger's nan_inf rule).
        metrics={k: f for k, v in trainer.callback_metrics.items() if _finite(f := _float(v))},
        stopped_early=bool(early is not None and early.stopped_epoch > 0),
        resumed_from=resumed_from,
        processes=trainer.world_size,
        debugger=debugger.entries() if debugger else None,
        stopped_by=debugger.stopped_by if debugger else None,
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
    """A Lightning Trainer from the ``trainer`` group (every Trainer argument), the
    ``logger`` group's loggers (each given the run's hyperparameters) and the ``callbacks``
    group plus ``callbacks`` (the caller's internal ones). If ``callbacks`` already holds
    the group's (from :func:`configured_callbacks`), it is not built again. ``overrides``
    win over the config (tests, benchmarks, DDP workers' ``logger=False``)."""
    import lightning.pytorch as pl
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary, ProgressBar

    from assayml.train.callbacks import CONFIGURED, build_callbacks, drop_unloggable
    from assayml.train.loggers import build_loggers, log_run_hyperparameters

    if cfg.trainer.accelerator in ("gpu", "cuda", "auto") and cfg.trainer.deterministic:
        # cuBLAS needs a fixed workspace for deterministic matrix products on CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if not any(hasattr(c, CONFIGURED) for c in callbacks):
        callbacks = [*build_callbacks(cfg), *callbacks]
    kwargs = trainer_arguments(cfg)
    kwargs["logger"] = overrides.pop("logger", None)
    if kwargs["logger"] is None:
        kwargs["logger"] = build_loggers(cfg) or False
    callbacks = drop_unloggable(callbacks, has_logger=bool(kwargs["logger"]))
    kwargs |= {
        "callbacks": callbacks,
        "default_root_dir": cfg.paths.checkpoints_dir,
        # What runs is what the callbacks group holds: Lightning adds none of its own.
        "enable_checkpointing": any(isinstance(c, ModelCheckpoint) for c in callbacks),
        "enable_model_summary": any(isinstance(c, ModelSummary) for c in callbacks),
        "enable_progress_bar": any(isinstance(c, ProgressBar) for c in callbacks),
    }
    kwargs.update(overrides)
    try:
        trainer = pl.Trainer(**kwargs)
    except (MisconfigurationException, ValueError, TypeError) as err:
        raise ConfigError(f"trainer: {err}") from err
    log_run_hyperparameters(trainer.loggers, cfg)
    return trainer


def trainer_arguments(cfg: AssayConfig) -> dict[str, Any]:
    """The ``trainer`` group as ``Trainer`` keyword arguments, minus those other groups own;
    an argument the installed Lightning lacks is dropped at its default, refused if set."""
    import dataclasses

    from assayml.config.trainer_schema import OWNED_ELSEWHERE, LightningTrainerArgs, live_arguments

    live = live_arguments()
    defaults = {f.name: f.default for f in dataclasses.fields(LightningTrainerArgs)}
    kwargs = {}
    for spec in dataclasses.fields(cfg.trainer):
        name, value = spec.name, getattr(cfg.trainer, spec.name)
        if name in OWNED_ELSEWHERE:
            continue
        if name not in live:
            if value != defaults.get(name):
                raise ConfigError(f"trainer.{name}: this Lightning's Trainer has no such argument")
            continue
        kwargs[name] = value
    return kwargs


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
    Lightning refuses in manual optimisation), with a ReduceLROnPlateau stepped every step
    (its metric is only known per Lightning step), and wherever something counts or watches
    single steps, since fused, a Lightning step is a group of them (module.py):
    ``trainer.max_steps``, and any callback but the stock per-epoch ones (see
    :func:`watches_steps`)."""
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
    if t.max_steps not in (None, -1) or any(map(watches_steps, cfg.callbacks.values())):
        return 1
    if validates_within_epochs(t.val_check_interval):
        return 1
    return cfg.train.fused_steps


def validates_within_epochs(interval: Any) -> bool:
    """``trainer.val_check_interval`` as a count of batches, or a fraction of an epoch below
    one: fused, both would count groups of steps."""
    if interval is None or isinstance(interval, bool):
        return False
    if isinstance(interval, int):
        return True
    return isinstance(interval, float) and interval < 1.0


# Callbacks that act per epoch (or once) whatever their settings, but for the step-interval
# settings named in watches_steps. Any other, the user's own above all, gets every step.
PER_EPOCH_CALLBACKS = (
    "ModelCheckpoint",
    "EarlyStopping",
    "LearningRateMonitor",
    "ModelSummary",
    "RichModelSummary",
    "RichProgressBar",
    "TQDMProgressBar",
)


def watches_steps(node: Any) -> bool:
    """Whether a ``callbacks`` entry (``None``: removed) needs every optimiser step."""
    if node is None:
        return False
    import lightning.pytorch.callbacks as stock
    from hydra.utils import get_object

    from assayml.train.progress import build_progress

    try:
        target = get_object(str(node.get("_target_")))
    except Exception:  # unimportable: building it says why (callbacks.py)
        return True
    per_epoch = tuple(getattr(stock, name) for name in PER_EPOCH_CALLBACKS)
    if target is not build_progress and target not in per_epoch:  # a subclass may watch steps
        return True
    if target is stock.LearningRateMonitor:  # None: every step as well as every epoch
        return node.get("logging_interval", None) in ("step", None)
    return bool(node.get("every_n_train_steps")) or node.get("train_time_interval") is not None


def configured_callbacks(cfg: AssayConfig) -> tuple[Any, list[Any]]:
    """The ``callbacks`` group built (see train/callbacks.py), and its first
    ``ModelCheckpoint`` (``None`` when removed), whose best checkpoint the fit keeps."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from assayml.train.callbacks import build_callbacks

    callbacks = build_callbacks(cfg)
    checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint)), None)
    return checkpoint, callbacks


def _resume_path(cfg: AssayConfig, clean: bool = True) -> str | None:
    """The checkpoint to continue from: ``ckpt_path``, or the last one with
    ``train.resume``; otherwise start clean (old checkpoint files removed, unless ``clean``
    is off (DDP workers): only ``*.ckpt`` directly in the folder, never the folder)."""
    directory = Path(cfg.paths.checkpoints_dir)
    if cfg.ckpt_path is not None:
        path = str(checkpoint_file(cfg))
        check_resumable(load_checkpoint(path), cfg, path)  # before Lightning reads it
        return path
    last = directory / f"{LAST}.ckpt"
    if cfg.train.resume:
        if not last.is_file():
            raise ArtifactError(f"{last}: no checkpoint to resume from (train.resume=true)")
        check_resumable(load_checkpoint(str(last)), cfg, str(last))  # before Lightning reads it
        return str(last)
    for stale in directory.glob("*.ckpt") if directory.is_dir() and clean else ():
        stale.unlink()
    return None


def checkpoint_file(cfg: AssayConfig) -> Path:
    """``ckpt_path`` resolved against the project root (``paths.root_dir``); refused
    outside it or when it is not a file."""
    from assayml.registry.paths import inside

    root = Path(cfg.paths.root_dir)
    path = inside(root / cfg.ckpt_path, root, "ckpt_path")
    if not path.is_file():
        raise ArtifactError(f"ckpt_path: {cfg.ckpt_path}: no such checkpoint file")
    return path


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


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.item() if hasattr(value, "item") else value)
