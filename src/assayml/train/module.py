"""The LightningModule: a plain network (or a stacked ensemble) plus the task's loss,
optimiser and epoch metrics.

Where the per-step time goes (benchmarks/train_overhead.py, 2-core CPU, small MLP, batch
256): the network's forward, backward and Adam step take ~350 us; Lightning's automatic
optimisation adds ~250 us of hook dispatch around them (each hook call sets attributes on
the module through ``nn.Module.__setattr__``, enters profiler contexts and visits every
callback), per-step ``self.log`` adds more, and per-row DataLoader collation more again.
So: batches are tensor slices (``batches.py``), losses are kept on the device and logged
once per epoch, and ``fused_steps`` optimiser steps run inside one Lightning step, with the
same data order and arithmetic as one step per call (a test checks the weights are equal).

Fused steps use only Lightning's public API. Each Lightning step is a group of
``fused_steps`` optimiser steps: the group's last goes through ``LightningOptimizer.step``
(which fires ``on_before_optimizer_step`` and advances ``trainer.global_step``), the others
through the torch optimiser itself. That per-step dispatch (strategy, precision plugin,
closure, a hook over every callback) cost ~45 us a step here, as much as the rest of
Lightning's overhead together. So in fused mode ``global_step`` counts Lightning steps
(groups), this module counts optimiser steps (``optimizer_steps``, kept in checkpoints),
and ``fit.fused_steps`` turns fusing off wherever something watches single steps
(``max_steps``, step-interval checkpoints or LR logging, a callback of the user's own). The
backward is torch's own, so ``on_before_backward``/``on_after_backward`` do not fire.
Lightning steps no scheduler in manual mode, so this module steps it where automatic
optimisation would: ``interval: step`` after every ``frequency``-th optimiser step of the
epoch, ``interval: epoch`` after the epoch's last training batch (before validation),
ReduceLROnPlateau after the epoch (validation included) with its metric.

An ensemble (``models/ensemble.py``) trains through the same steps: its batches are
``[k, rows, features]`` (each member its own rows), its outputs ``[k, rows, out]``, and the
loss is the sum of the members' losses.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from assayml.errors import ConfigError
from assayml.train.losses import member_losses, point_prediction
from assayml.train.optim import build_optimization

STEPS_KEY = "assay_optimizer_steps"  # a checkpoint's count of optimiser steps (fused mode)


class AssayModule(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        task: str,
        lr: float,
        weight_decay: float = 0.0,
        optimizer: Any = "adam",
        batch_size: int = 64,
        fused_steps: int = 1,
        gradient_clip_val: float | None = None,
        head: str = "logits",
        scheduler: dict[str, Any] | None = None,
        monitor: str = "val/loss",
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.members = getattr(net, "members", 1)  # the train loss shown is per member
        self.task, self.head = task, head
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_spec, self.scheduler_spec, self.monitor = optimizer, scheduler, monitor
        self.batch_size = batch_size
        self.fused = fused_steps > 1
        self.clip, self.clip_algorithm = gradient_clip_val, gradient_clip_algorithm or "norm"
        # Fused steps call the optimiser themselves; Lightning clips only in automatic mode.
        self.automatic_optimization = not self.fused
        self.member_val_loss: torch.Tensor | None = None  # [k] after each validation epoch
        self._sums: dict[str, list[torch.Tensor]] = {}  # per-batch values, reduced per epoch
        self._weights: dict[str, list[float]] = {}  # each value's weight in the epoch's sum
        self._counts: dict[str, int] = {}
        self._epoch_steps = 0  # optimiser steps this epoch (fused: step-interval schedulers)
        self.optimizer_steps = 0  # fused: every optimiser step (global_step counts groups)
        self._plateau: dict[str, Any] = {}  # fused: a ReduceLROnPlateau's monitor and strict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, features] (or [k, batch, features]) -> [(k,) batch, outputs]."""
        return self.net(x)

    def loss(
        self, output: torch.Tensor, y: torch.Tensor, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``rows``: each row's loss weight (mitigation=reweighing), or None."""
        return member_losses(output, y, self.task, self.head, rows).sum()

    def training_step(self, batch: tuple, _: int):
        x, y, *weight = batch  # a weight under DDP (see batches.TensorBatches)
        rows_weight = weight.pop() if weight and torch.is_tensor(weight[-1]) else None
        if not self.fused:
            loss = self.loss(self(x), y, rows_weight)
            self._accumulate("train/loss", loss, y.shape[-1], y.shape[-1] / self.members)
            return loss * weight[0] if weight else loss
        optimizer = self.optimizers()  # a LightningOptimizer
        raw = optimizer.optimizer
        starts = range(0, y.shape[-1], self.batch_size)  # rows are the last y dim
        for start in starts:
            rows = slice(start, start + self.batch_size)
            xb, yb = x[..., rows, :], y[..., rows]
            wb = None if rows_weight is None else rows_weight[..., rows]
            loss = self.loss(self.net(xb), yb, wb)
            raw.zero_grad()
            # Plain backward, not manual_backward: its two hook dispatches per step cost more
            # than the step itself here (benchmarks/README.md); fusing is off wherever the
            # precision plugin or strategy must see the backward (fit.fused_steps).
            loss.backward()
            if self.clip:
                self.clip_gradients(optimizer, self.clip, self.clip_algorithm)
            # The group's last step through Lightning (hooks, global_step), the rest direct.
            (optimizer if start == starts[-1] else raw).step()
            self._epoch_steps += 1
            self.optimizer_steps += 1
            self._step_schedulers("step", self._epoch_steps)
            self._accumulate("train/loss", loss, yb.shape[-1], yb.shape[-1] / self.members)
        return None

    def on_train_epoch_start(self) -> None:
        self._epoch_steps = 0

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[STEPS_KEY] = self.optimizer_steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.optimizer_steps = checkpoint.get(STEPS_KEY, checkpoint.get("global_step", 0))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Where automatic optimisation steps epoch-interval schedulers: after the epoch's
        # last batch, before validation (whose checkpoint then holds the stepped state).
        if self.fused and batch_idx + 1 == self.trainer.num_training_batches:
            self._step_schedulers("epoch", self.current_epoch + 1)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        output = self(x)  # [(k,) rows, out]
        rows = y.shape[-1]
        losses = member_losses(output, y, self.task, self.head)  # [k] or []
        self._accumulate("val/member_loss", losses.detach() * rows, rows)
        self._accumulate("val/loss", losses.mean() * rows, rows)
        predicted = point_prediction(output, self.task)
        if self.task == "regression":
            self._accumulate("val/mae", (predicted - y).abs().sum(dim=-1).mean(), rows)
        else:
            self._accumulate("val/acc", (predicted == y).sum(dim=-1).float().mean(), rows)

    def on_train_epoch_end(self) -> None:
        self._log_means("train/")
        if self.fused and self._plateau:
            self._step_plateau()

    def on_validation_epoch_end(self) -> None:
        member = self._mean("val/member_loss")
        self.member_val_loss = member if member is not None and member.dim() else None
        self._log_means("val/")

    def configure_optimizers(self):
        config = build_optimization(
            self.net.parameters(),
            self.optimizer_spec,
            self.scheduler_spec,
            lr=self.lr,
            weight_decay=self.weight_decay,
            monitor=self.monitor,
        )
        if self.fused and isinstance(config, dict):
            # Manual optimisation: this module steps the scheduler (Lightning warns about and
            # ignores monitor and strict there), so it keeps them itself.
            scheduler = config["lr_scheduler"]
            if isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau):
                self._plateau = {
                    "monitor": scheduler.pop("monitor"),
                    "strict": scheduler.pop("strict", True),
                }
        return config

    def _step_schedulers(self, interval: str, index: int) -> None:
        """Fused mode: step the non-plateau schedulers due at this step or epoch (``index``
        1-based), as Lightning's automatic optimisation would."""
        for config in self.trainer.lr_scheduler_configs:
            plateau = isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
            if not plateau and config.interval == interval and index % config.frequency == 0:
                config.scheduler.step()

    def _step_plateau(self) -> None:
        """Fused mode: step ReduceLROnPlateau after the epoch on its monitored metric."""
        for config in self.trainer.lr_scheduler_configs:
            if not isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                continue
            if (self.current_epoch + 1) % config.frequency:
                continue
            value = self.trainer.callback_metrics.get(self._plateau["monitor"])
            if value is None:
                if self._plateau["strict"]:
                    raise ConfigError(
                        f"model.scheduler: ReduceLROnPlateau watches "
                        f"'{self._plateau['monitor']}', which this run does not log "
                        f"(it logs {', '.join(self.trainer.callback_metrics) or 'nothing'})"
                    )
                continue
            config.scheduler.step(value)

    def _accumulate(self, name: str, value: torch.Tensor, count: int, weight: float = 1) -> None:
        """Add ``value * weight`` (over ``count`` rows) to the epoch's sum of ``name``.

        Appending costs ~1 us; a tensor operation on every step (the weighting) costs
        several, so the weights are applied once, at the epoch's end."""
        self._sums.setdefault(name, []).append(value.detach())
        self._weights.setdefault(name, []).append(weight)
        self._counts[name] = self._counts.get(name, 0) + count

    def _mean(self, name: str) -> torch.Tensor | None:
        if name not in self._sums:
            return None
        values = torch.stack(self._sums.pop(name)).double()  # [batches, (k)]
        weights = torch.tensor(self._weights.pop(name), dtype=values.dtype, device=values.device)
        weights = weights.reshape(-1, *[1] * (values.dim() - 1))
        return (values * weights).sum(dim=0) / self._counts.pop(name)

    def _log_means(self, prefix: str) -> None:
        for name in [k for k in self._sums if k.startswith(prefix)]:
            mean = self._mean(name)
            self.log(name, mean.float(), prog_bar=name.endswith("loss"), sync_dist=True)
