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

An ensemble (``models/ensemble.py``) trains through the same steps: its batches are
``[k, rows, features]`` (each member its own rows), its outputs ``[k, rows, out]``, and the
loss is the sum of the members' losses.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn

from assayml.config.models import Optimizer
from assayml.train.losses import member_losses, point_prediction


class AssayModule(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        task: str,
        lr: float,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        batch_size: int = 64,
        fused_steps: int = 1,
        gradient_clip_val: float | None = None,
        head: str = "logits",
    ) -> None:
        super().__init__()
        self.net = net
        self.members = getattr(net, "members", 1)  # the train loss shown is per member
        self.task, self.head = task, head
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = getattr(optimizer, "name", optimizer)
        self.batch_size = batch_size
        self.fused = fused_steps > 1
        self.clip = gradient_clip_val
        # Fused steps call the optimiser themselves; Lightning clips only in automatic mode.
        self.automatic_optimization = not self.fused
        self.member_val_loss: torch.Tensor | None = None  # [k] after each validation epoch
        self._sums: dict[str, list[torch.Tensor]] = {}  # per-batch sums, reduced per epoch
        self._counts: dict[str, int] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, features] (or [k, batch, features]) -> [(k,) batch, outputs]."""
        return self.net(x)

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return member_losses(output, y, self.task, self.head).sum()

    def training_step(self, batch: tuple, _: int):
        x, y, *weight = batch  # a weight under DDP (see batches.TensorBatches)
        if not self.fused:
            loss = self.loss(self(x), y)
            self._accumulate("train/loss", loss.detach() * y.shape[-1] / self.members, y.shape[-1])
            return loss * weight[0] if weight else loss
        wrapper = self.optimizers()
        optimizer = wrapper.optimizer  # the torch optimiser itself: no per-step hooks
        for start in range(0, y.shape[-1], self.batch_size):  # rows are the last y dim
            rows = slice(start, start + self.batch_size)
            xb, yb = x[..., rows, :], y[..., rows]
            loss = self.loss(self.net(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            if self.clip:
                nn.utils.clip_grad_norm_(self.parameters(), self.clip)
            # Lightning's own step counter (trainer.global_step, which checkpointing reads)
            # is advanced by these two callbacks around every optimiser step.
            wrapper._on_before_step()
            optimizer.step()
            wrapper._on_after_step()
            self._accumulate(
                "train/loss", loss.detach() * yb.shape[-1] / self.members, yb.shape[-1]
            )
        return None

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

    def on_validation_epoch_end(self) -> None:
        member = self._mean("val/member_loss")
        self.member_val_loss = member if member is not None and member.dim() else None
        self._log_means("val/")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = self.net.parameters()
        kind = Optimizer[self.optimizer_name]
        if kind is Optimizer.sgd:
            return torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)
        if kind is Optimizer.adamw:
            return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)

    def _accumulate(self, name: str, total: torch.Tensor, count: int) -> None:
        # Appending costs ~1 us; arithmetic on every step would cost ten times that.
        self._sums.setdefault(name, []).append(total.detach())
        self._counts[name] = self._counts.get(name, 0) + count

    def _mean(self, name: str) -> torch.Tensor | None:
        if name not in self._sums:
            return None
        return torch.stack(self._sums.pop(name)).double().sum(dim=0) / self._counts.pop(name)

    def _log_means(self, prefix: str) -> None:
        for name in [k for k in self._sums if k.startswith(prefix)]:
            mean = self._mean(name)
            self.log(name, mean.float(), prog_bar=name.endswith("loss"), sync_dist=True)
