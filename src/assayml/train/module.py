"""The LightningModule: a plain network plus the task's loss, optimiser and epoch metrics.

Per-step work is kept to the loss and the optimiser step: losses are summed on the device and
logged once per epoch, because ``self.log`` on every step (and a logger writing every step)
costs more than a small network's forward and backward pass.
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
    ) -> None:
        super().__init__()
        self.net = net
        self.task = task
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = getattr(optimizer, "name", optimizer)
        self._sums: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, features] -> logits [batch, classes] or predictions [batch, 1]."""
        return self.net(x)

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "regression":
            return F.mse_loss(output.squeeze(-1), y)
        return F.cross_entropy(output, y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        loss = self.loss(self(x), y)
        self._accumulate("train/loss", loss.detach() * len(y), len(y))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        output = self(x)
        self._accumulate("val/loss", self.loss(output, y) * len(y), len(y))
        if self.task == "regression":
            self._accumulate("val/mae", (output.squeeze(-1) - y).abs().sum(), len(y))
        else:
            self._accumulate("val/acc", (output.argmax(-1) == y).sum().float(), len(y))

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
        previous = self._sums.get(name)
        total = total.detach().double()
        self._sums[name] = total if previous is None else previous + total
        count_key = f"{name}#n"
        self._sums[count_key] = self._sums.get(count_key, 0) + count

    def _log_means(self, prefix: str) -> None:
        names = [k for k in self._sums if k.startswith(prefix) and not k.endswith("#n")]
        for name in names:
            mean = self._sums.pop(name) / self._sums.pop(f"{name}#n")
            self.log(name, mean.float(), prog_bar=name.endswith("loss"), sync_dist=True)
