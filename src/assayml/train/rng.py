"""Save and restore the torch random number generators with each checkpoint.

Lightning's checkpoints hold the weights, optimiser, loop and callback states but not the
RNGs, so a resumed run would draw other dropout masks than an uninterrupted one. With these
states restored (and data order drawn from (seed, epoch), see batches.py), a run resumed
from an end-of-epoch checkpoint is bit-identical to one that never stopped on CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

KEY = "assay_rng_states"


class RngStateCheckpoint(Callback):
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        states: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            states["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint[KEY] = states

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get(KEY)
        if not states:
            return
        torch.set_rng_state(states["torch"])
        if "cuda" in states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
