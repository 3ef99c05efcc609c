"""The LightningDataModule over the transformed splits written by ``assay features``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch

from assayml.errors import ArtifactError
from assayml.train.batches import EnsembleBatches, TensorBatches

VAL_BATCH_ROWS = 1024  # validation has no optimiser step: bigger batches are cheaper


@dataclass
class SplitTensors:
    x: torch.Tensor  # [rows, features] float32
    y: torch.Tensor  # [rows] int64 class indices, or float32 (standardised) targets


def load_split(features_dir: str | Path, split: str) -> SplitTensors:
    """A transformed split (``{split}.safetensors``: x, y) as tensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(features_dir) / f"{split}.safetensors"
    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found (run `assay features` first)") from None
    except SafetensorError as err:
        raise ArtifactError(f"{path}: unreadable ({err}); rerun `assay features`") from err
    return SplitTensors(x=tensors["x"], y=tensors["y"])


class FeatureDataModule(pl.LightningDataModule):
    """Train and val splits in memory, served as tensor slices.

    Each training batch holds ``batch_size * fused_steps`` rows: the module takes
    ``fused_steps`` optimiser steps of ``batch_size`` rows from it (see module.py).
    """

    def __init__(
        self,
        train: SplitTensors,
        val: SplitTensors,
        batch_size: int,
        fused_steps: int = 1,
        seed: int = 0,
        members: int = 0,
        bootstrap: bool = False,
    ) -> None:
        super().__init__()
        self.train, self.val = train, val
        self.batch_size, self.fused_steps, self.seed = batch_size, fused_steps, seed
        self.members, self.bootstrap = members, bootstrap  # members > 0: an ensemble

    @classmethod
    def from_dir(cls, features_dir: str | Path, **kwargs) -> FeatureDataModule:
        return cls(load_split(features_dir, "train"), load_split(features_dir, "val"), **kwargs)

    @property
    def in_features(self) -> int:
        return int(self.train.x.shape[1])

    def train_dataloader(self) -> TensorBatches | EnsembleBatches:
        """Under DDP every rank draws the same batches of ``batch_size`` rows and takes its
        share of each, so the averaged gradient is that of the whole batch: the same
        optimisation as one process (up to rounding and dropout masks)."""
        from assayml.train.distributed import rank_and_world

        rows = self.batch_size * self.fused_steps
        shard = rank_and_world(getattr(self, "trainer", None))
        if self.members:
            seeds = [self.seed + i for i in range(self.members)]
            return EnsembleBatches(self.train.x, self.train.y, rows, seeds, self.bootstrap, shard)
        return TensorBatches(
            self.train.x, self.train.y, rows, shuffle=True, seed=self.seed, shard=shard
        )

    def val_dataloader(self) -> TensorBatches:
        # Every rank validates on all rows: identical metrics on every rank, so early
        # stopping and checkpoint choices agree without synchronising.
        rows = max(self.batch_size, VAL_BATCH_ROWS)
        return TensorBatches(self.val.x, self.val.y, rows, shuffle=False)
