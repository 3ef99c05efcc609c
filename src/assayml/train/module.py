"""The LightningModule: a plain network plus the task's loss, optimiser and epoch metrics.

Where the per-step time goes (benchmarks/train_overhead.py, 2-core CPU, small MLP, batch
256): the network's forward, backward and Adam step take ~350 us; Lightning's automatic
optimisation adds ~250 us of hook dispatch around them (each hook call sets attributes on
the module through ``nn.Module.__setattr__``, enters profiler contexts and visits every
callback), per-step ``self.log`` adds more, and per-row DataLoader collation more again.
So: batches are tensor slices (``batches.py``), losses are summed on the device and logged
once per epoch, and ``fused_steps`` optimiser steps run inside one Lightning step, with the
same data order and arithmetic as one step per call (a test checks the weights are equal).
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional as F

from assayml.config.models import Optimizer


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
    ) -> None:
        super().__init__()
        self.net = net
        self.task = task
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = getattr(optimizer, "name", optimizer)
        self.batch_size = batch_size
        self.fused = fused_steps > 1
        self.clip = gradient_clip_val
        # Fused steps call the optimiser themselves; Lightning clips only in automatic mode.
        self.automatic_optimization = not self.fused
        self._sums: dict[str, list[torch.Tensor]] = {}  # per-batch sums, reduced per epoch
        self._counts: dict[str, int] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, features] -> logits [batch, classes] or predictions [batch, 1]."""
        return self.net(x)

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "regression":
            return F.mse_loss(output.squeeze(-1), y)
        return F.cross_entropy(output, y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int):
        x, y = batch
        if not self.fused:
            loss = self.loss(self(x), y)
            self._accumulate("train/loss", loss.detach() * len(y), len(y))
            return loss
        wrapper = self.optimizers()
        optimizer = wrapper.optimizer  # the torch optimiser itself: no per-step hooks
        for start in range(0, len(y), self.batch_size):  # [batch_size, features] each
            xb, yb = x[start : start + self.batch_size], y[start : start + self.batch_size]
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
            self._accumulate("train/loss", loss.detach() * len(yb), len(yb))
        return None

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        output = self(x)
        self._accumulate("val/loss", self.loss(output, y) * len(y), len(y))
        if self.task == "regression":
            self._accumulate("val/mae", (output.squeeze(-1) - y).abs().sum(), len(y))
        else:
            self._accumulate("val/acc", (output.argmax(-1) == y).sum(), len(y))

    def on_train_epoch_end(self) -> None:
        self._log_means("train/")

    def on_validation_epoch_end(self) -> None:
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

    def _log_means(self, prefix: str) -> None:
        for name in [k for k in self._sums if k.startswith(prefix)]:
            total = torch.stack(self._sums.pop(name)).double().sum()
            mean = total / self._counts.pop(name)
            self.log(name, mean.float(), prog_bar=name.endswith("loss"), sync_dist=True)
