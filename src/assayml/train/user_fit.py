"""Fit a user's own LightningModule (``model._target_``) with stock automatic optimisation.

The module gets every Lightning hook at every step, the configured Trainer, callbacks and
loggers, and the run's seed (``seed_everything`` before it is built and again before the
fit, as for our own module). Its data is a user's LightningDataModule, or our transformed
tables (batches ``(x, y)``: x ``[rows, features]`` float32, y class indices or targets).
The weights kept are those of the best validation epoch by ``train.monitor``, held in
memory (a user's checkpoint may pickle objects we would not unpickle); without that
metric, the last epoch's, and the record says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from assayml.config.schema import AssayConfig
from assayml.config.user_modules import MODULE_RESERVED, instantiate
from assayml.errors import ConfigError


@dataclass
class UserFitResult:
    module: Any  # the LightningModule, with the kept weights, in eval mode
    state_dict: dict[str, torch.Tensor]
    best_score: float | None
    best_epoch: int | None
    epochs: int
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    kept: str = "best"  # best | last (train.monitor was never logged)
    resumed_from: str | None = None
    processes: int = 1
    debugger: dict[str, Any] | None = None  # per rule: fired, step, figure (train/debugger.py)
    stopped_by: str | None = None  # a debugger rule whose action stopped training


class BestWeights(Callback):
    """A copy of the module's weights at its best ``monitor`` value so far."""

    def __init__(self, monitor: str, mode: str) -> None:
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.epoch: int | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        value = float(value)
        if not math.isfinite(value):  # NaN compares false with everything: never "best"
            return
        better = self.best is None or (
            value < self.best if self.mode == "min" else value > self.best
        )
        if better:
            self.best, self.epoch = value, trainer.current_epoch + 1
            self.state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}


def module_node(cfg: AssayConfig) -> dict[str, Any]:
    """``cfg.model`` as the plain mapping Hydra instantiates."""
    from assayml.config.user_modules import constructor_node

    return constructor_node(cfg.model)


def build_user_module(cfg: AssayConfig):
    """The configured LightningModule, built after seeding with the run's seed."""
    import lightning.pytorch as pl

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    return instantiate(module_node(cfg), MODULE_RESERVED)


def fit_user_module(cfg: AssayConfig, data, ckpt_path: str | None = None) -> UserFitResult:
    """Train ``cfg.model`` on ``data`` (a LightningDataModule) and keep its best weights."""
    import lightning.pytorch as pl

    from assayml.train.debugger import build_debugger
    from assayml.train.fit import build_trainer, configured_callbacks

    module = build_user_module(cfg)
    _, callbacks = configured_callbacks(cfg)
    best = BestWeights(cfg.train.monitor, cfg.train.mode.name)
    callbacks.append(best)
    debugger = build_debugger(cfg.debugger)
    callbacks += [debugger] if debugger else []
    trainer = build_trainer(cfg, callbacks)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    except MisconfigurationException as err:
        raise ConfigError(f"{cfg.model._target_}: {_monitor_hint(cfg, err)}") from err
    except RuntimeError as err:
        if "conditioned on metric" not in str(err):  # EarlyStopping's missing metric
            raise
        raise ConfigError(f"{cfg.model._target_}: {_monitor_hint(cfg, err)}") from err
    kept = "best" if best.state is not None else "last"
    state = best.state or {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    module.load_state_dict(state)
    early = next((c for c in trainer.callbacks if type(c).__name__ == "EarlyStopping"), None)
    return UserFitResult(
        module=module.eval(),
        state_dict=state,
        best_score=best.best,
        best_epoch=best.epoch,
        epochs=trainer.current_epoch - (debugger.skipped_epochs if debugger else 0),
        steps=trainer.global_step,
        metrics={
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if v.numel() == 1 and math.isfinite(float(v))
        },
        stopped_early=bool(early is not None and early.stopped_epoch > 0),
        kept=kept,
        resumed_from=ckpt_path,
        processes=trainer.world_size,
        debugger=debugger.entries() if debugger else None,
        stopped_by=debugger.stopped_by if debugger else None,
    )


def _monitor_hint(cfg: AssayConfig, err: Exception) -> str:
    """Lightning's message, and what to do when the module never logs ``train.monitor``."""
    text = str(err).strip().splitlines()[0]
    if cfg.train.monitor in str(err):
        text += (
            f" (the checkpoint and early-stopping callbacks watch train.monitor="
            f"{cfg.train.monitor}: self.log it in validation_step, set train.monitor to a "
            "metric the module logs, or remove both callbacks to keep the last epoch)"
        )
    return text
