"""Keep each ensemble member's weights from its own best validation epoch.

A single network keeps the checkpoint with the best ``train.monitor``; an ensemble keeps,
for each member, the epoch with that member's lowest validation loss, as the member would
have kept had it been trained alone. Early stopping watches the members' mean.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from assayml.models.ensemble import copy_member


class BestMembers(Callback):
    def __init__(self) -> None:
        self.best_loss: torch.Tensor | None = None  # [k] float32, as ModelCheckpoint compares
        self.best_epoch: list[int] = []  # 1-based
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        losses = pl_module.member_val_loss
        if losses is None or trainer.sanity_checking:
            return
        losses = losses.float().cpu()
        current = {k: v.detach().cpu().clone() for k, v in pl_module.net.state_dict().items()}
        epoch = trainer.current_epoch + 1
        if self.state is None:
            self.state, self.best_loss = current, losses.clone()
            self.best_epoch = [epoch] * len(losses)
            return
        for index in torch.nonzero(losses < self.best_loss).flatten().tolist():
            copy_member(self.state, current, pl_module.net, index)
            self.best_loss[index] = losses[index]
            self.best_epoch[index] = epoch

    def state_dict(self) -> dict[str, Any]:
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch, "state": self.state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_loss = state_dict["best_loss"]
        self.best_epoch = list(state_dict["best_epoch"])
        self.state = state_dict["state"]
