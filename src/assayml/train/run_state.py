"""What a checkpoint must carry, beyond Lightning's own state, to resume a run faithfully.

* The torch random number generators: Lightning's checkpoints hold the weights, optimiser,
  loop and callback states but not the RNGs, so a resumed run would draw other dropout
  masks than an uninterrupted one. With them restored (and data order drawn from
  (seed, epoch), see batches.py), a run resumed from an end-of-epoch checkpoint is
  bit-identical to one that never stopped, on CPU.
* The config that made it, minus what a resume may change (epoch budget, progress,
  logging, paths): resuming under another config is refused, naming the keys that differ.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from assayml.config.load import canonical_json
from assayml.config.schema import AssayConfig
from assayml.errors import ArtifactError

RNG_KEY = "assay_rng_states"
CONFIG_KEY = "assay_resume_config"
MAY_CHANGE = (
    "trainer.max_epochs",
    "trainer.min_epochs",
    "trainer.enable_progress_bar",
    "train.resume",
    "train.early_stopping",
    "logger",
    "paths",
    "callbacks",  # progress, monitoring; the checkpoint's monitor is train.monitor's
    "tags",
    "ckpt_path",
)


def resume_config(cfg: AssayConfig) -> dict[str, Any]:
    """The config as a flat dict, without the keys a resume may change."""
    flat = _flatten(json.loads(canonical_json(cfg)))
    return {
        k: v
        for k, v in flat.items()
        if not any(k == p or k.startswith(p + ".") for p in MAY_CHANGE)
    }


def check_resumable(checkpoint: dict[str, Any], cfg: AssayConfig, path: str) -> None:
    saved = checkpoint.get(CONFIG_KEY)
    if saved is None:
        return  # written before configs were stored: nothing to compare
    current = resume_config(cfg)
    differing = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if differing:
        shown = ", ".join(differing[:8]) + (" ..." if len(differing) > 8 else "")
        raise ArtifactError(
            f"{path}: written by another config (differs at {shown}); "
            "resume with the config that started the run, or train afresh"
        )


class RunStateCheckpoint(Callback):
    def __init__(self, cfg: AssayConfig) -> None:
        self.config = resume_config(cfg)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        states: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            states["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint[RNG_KEY] = states
        checkpoint[CONFIG_KEY] = self.config

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get(RNG_KEY)
        if not states:
            return
        torch.set_rng_state(states["torch"])
        if "cuda" in states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}
