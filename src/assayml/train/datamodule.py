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
    w: torch.Tensor | None = None  # [rows] float32 loss weights (mitigation=reweighing)


def load_split(features_dir: str | Path, split: str) -> SplitTensors:
    """A transformed split (``{split}.safetensors``: x, y) as tensors over a memory map of
    the file: the operating system pages rows in as batches touch them, so a split larger
    than memory trains (slower once it no longer fits the page cache) and a small one
    costs nothing extra. Copy-on-write: nothing can write back to the file."""
    path = Path(features_dir) / f"{split}.safetensors"
    try:
        header, start = _safetensors_header(path)
        tensors = {
            name: _mapped(path, start, header[name]) for name in ("x", "y") if name in header
        }
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found (run `assay features` first)") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ArtifactError(f"{path}: unreadable ({err}); rerun `assay features`") from err
    if set(tensors) != {"x", "y"}:
        raise ArtifactError(f"{path}: holds {sorted(tensors)}, not x and y; rerun `assay features`")
    return SplitTensors(x=tensors["x"], y=tensors["y"])


SAFETENSORS_DTYPES = {"F32": "float32", "F64": "float64", "I64": "int64", "I32": "int32"}


def _safetensors_header(path: Path) -> tuple[dict, int]:
    import json

    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        if not 0 < length <= 100_000_000:
            raise ValueError("not a safetensors file (header length)")
        header = json.loads(handle.read(length))
    size = path.stat().st_size - 8 - length
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    if max(ends, default=0) != size:
        raise ValueError(f"truncated: {size} data bytes, the header describes {max(ends)}")
    return header, 8 + length


def _mapped(path: Path, start: int, spec: dict) -> torch.Tensor:
    import warnings

    import numpy as np

    dtype = np.dtype(SAFETENSORS_DTYPES[spec["dtype"]])
    begin, end = spec["data_offsets"]
    shape = tuple(spec["shape"])
    if end - begin != dtype.itemsize * int(np.prod(shape)):
        raise ValueError(f"tensor size does not match its shape {shape}")
    if end == begin:
        return torch.from_numpy(np.zeros(shape, dtype=dtype))
    array = np.memmap(path, dtype=dtype, mode="c", offset=start + begin, shape=shape)
    with warnings.catch_warnings():  # copy-on-write pages: writable for torch's purposes
        warnings.simplefilter("ignore")
        return torch.from_numpy(array)


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
            return EnsembleBatches(
                self.train.x, self.train.y, rows, seeds, self.bootstrap, shard, self.train.w
            )
        return TensorBatches(self.train.x, self.train.y, rows, True, self.seed, shard, self.train.w)

    def val_dataloader(self) -> TensorBatches:
        # Every rank validates on all rows: identical metrics on every rank, so early
        # stopping and checkpoint choices agree without synchronising.
        rows = max(self.batch_size, VAL_BATCH_ROWS)
        return TensorBatches(self.val.x, self.val.y, rows, shuffle=False)
