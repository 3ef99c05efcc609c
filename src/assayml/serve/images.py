"""Predict and serve a user's LightningModule trained on images from a DataModule.

Such a model has no input schema (no named columns); its inputs are image files. A file is
read as torchvision's ``ToTensor`` reads it (greyscale for one channel, RGB for three, values
scaled to [0, 1]) and must have the height and width the model was trained on
(``model.json``: ``extras.input_shape``); a DataModule that normalises its inputs otherwise
should fold that step into its module's ``forward``, which is what predict and serve call.
``assay predict FOLDER|FILE.png OUT.csv`` writes one row per image; ``assay serve`` takes a
PNG body (``Content-Type: image/png``) on ``POST /predict``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from assayml.errors import DataError
from assayml.models.inference import Sampling

IMAGE_SUFFIXES = (".png",)
BATCH_IMAGES = 1024  # images per forward pass in batch prediction


@dataclass
class ImageModel:
    module: Any
    spec: Any
    sampling: Sampling
    name: str
    version: int | None
    lineage_id: str
    directory: Path

    @property
    def input_shape(self) -> list[int]:
        return list(self.spec.extras["input_shape"])

    @property
    def classes(self) -> list[Any]:
        return list(self.spec.extras.get("classes") or [])

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "lineage_id": self.lineage_id,
            "task": self.spec.task,
            "classes": self.classes,
            "inputs": {"image": self.input_shape, "content_type": "image/png"},
            "uncertainty": {k: v for k, v in self.spec.extras.items() if k != "seed"},
        }

    def predict_images(self, images: torch.Tensor, threshold: float = 0.5) -> list[dict]:
        """One JSON-ready record per image of ``images`` ``[n, channels, height, width]``."""
        from assayml.stages.evaluate_module import predictions

        outputs = image_outputs(self.module, images, self.sampling)
        pred = predictions(outputs, self.spec.task, threshold, self.sampling)
        records = []
        for i in range(len(images)):
            if pred.task == "regression":
                record: dict[str, Any] = {"prediction": float(pred.predicted[i])}
            else:
                record = {"prediction": self.classes[int(pred.predicted[i])]}
                record |= {
                    f"probability_{c}": float(pred.probabilities[i, j])
                    for j, c in enumerate(self.classes)
                }
            record |= {k: float(v[i]) for k, v in pred.uncertainty.items()}
            records.append(record)
        return records


def is_image_model(directory: Path, spec) -> bool:
    """A user's module with image-shaped inputs and no table schema beside it."""
    shape = spec.extras.get("input_shape") or []
    return spec.kind == "lightning_module" and not spec.feature_names and len(shape) == 3


@torch.no_grad()
def image_outputs(module, images: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """Raw outputs ``[S, n, out]`` (S: members or MC-dropout passes, else 1)."""
    from assayml.uncertainty.mc_dropout import mc_dropout_samples

    module.eval()
    if sampling.mc_samples:
        return mc_dropout_samples(module, images, sampling.mc_samples, sampling.seed, 1).double()
    out = module(images)
    return (out if sampling.members else out.unsqueeze(0)).double()


def decode_image(blob: bytes, shape: list[int], where: str) -> torch.Tensor:
    """``[channels, height, width]`` float32 in [0, 1] from PNG bytes; DataError naming
    ``where`` for what is not an image of that shape."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    if channels not in (1, 3):
        raise DataError(f"{where}: the model takes {channels}-channel inputs, not images")
    try:
        with Image.open(io.BytesIO(blob)) as image:
            if image.format != "PNG":
                raise DataError(f"{where}: a {image.format} image; send PNG")
            if image.size != (width, height):
                raise DataError(
                    f"{where}: {image.size[0]}x{image.size[1]} pixels; the model takes "
                    f"{width}x{height}"
                )
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), np.float32)
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{where}: not a readable PNG image ({err})") from None
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return torch.from_numpy(pixels / 255.0)


def image_files(source: Path) -> list[Path]:
    """A PNG file, or every PNG under a folder (sorted, subfolders included)."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such file or folder")
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{source}: no PNG images in this folder")
    return files


def predict_files(model: ImageModel, source: Path, threshold: float):
    """A table: one row per image file (its path, SHA-256 and prediction columns)."""
    import pandas as pd

    rows = []
    files = image_files(source)
    for start in range(0, len(files), BATCH_IMAGES):  # bounded memory for large folders
        part = files[start : start + BATCH_IMAGES]
        blobs = [p.read_bytes() for p in part]  # read once: hashed as predicted
        images = torch.stack(
            [decode_image(b, model.input_shape, str(p)) for p, b in zip(part, blobs, strict=True)]
        )
        records = model.predict_images(images, threshold)
        rows += [
            {"file": str(p), "sha256": hashlib.sha256(b).hexdigest(), **r}
            for p, b, r in zip(part, blobs, records, strict=True)
        ]
    return pd.DataFrame(rows)
