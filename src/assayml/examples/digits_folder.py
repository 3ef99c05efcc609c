"""Your own LightningDataModule and LightningModule: digits as a folder of PNG images.

``DigitsFolderDataModule`` reads a folder laid out as torchvision's ``ImageFolder`` reads
it (one subfolder per class, named by the label). :func:`write_digits_pngs` writes such a folder
from scikit-learn's bundled 8x8 digits, so the example needs no download; track the folder
with DVC (``dvc add data/raw/digits_png``) to version it. ``DigitsCNN`` is a small
convolutional LightningModule whose network, optimizer and scheduler come from config
(``conf/model/digits_cnn.yaml``), as in lightning-hydra-template.

Run it: ``assay run experiment=digits_folder`` (the PNGs are written on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def write_digits_pngs(root: str | Path) -> int:
    """Write scikit-learn's digits as ``root/<label>/<index>.png`` (8-bit greyscale);
    returns the number of images. Deterministic bytes: same folder, same DVC hash.

    The folder appears whole or not at all: it is written beside ``root`` and renamed into
    place, so a run killed midway leaves no half folder that the next would take as done."""
    import os
    import shutil
    import tempfile

    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
            folder = staging / str(label)
            folder.mkdir(exist_ok=True)
            pixels = np.round(image * (255 / 16)).astype(np.uint8)  # 0..16 -> 0..255
            Image.fromarray(pixels).save(folder / f"{index:04d}.png", optimize=False)
        os.chmod(staging, 0o755)  # mkdtemp's 0o700 would differ from a plain folder
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already unless something failed
    return len(digits.target)


def read_image_folder(root: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of an ImageFolder layout (``root/<class>/<file>.png``) as greyscale
    ``[n, 1, h, w]`` floats in [0, 1], and class indices by sorted class name.

    Read with torchvision's ``datasets.ImageFolder`` where torchvision works beside the
    installed torch; else with Pillow, in the same order to the same values (a test checks
    the two agree where both run). The CPU build of torch this project pins has no matching
    torchvision on PyPI (its wheel fails to import: "operator torchvision::nms does not
    exist"), hence the fallback rather than a dependency.
    """
    folder = torchvision_folder(root)
    if folder is not None:
        images = [image for image, _ in folder]
        return torch.stack(images), torch.tensor(folder.targets)
    return read_image_folder_pillow(root)


def torchvision_folder(root: str | Path):
    """torchvision's ImageFolder over ``root`` (greyscale tensors), or None where
    torchvision cannot be imported beside this torch."""
    try:
        from torchvision import datasets, transforms
    except (ImportError, RuntimeError, OSError):  # absent, or built for another torch
        return None
    to_tensor = transforms.Compose([transforms.Grayscale(), transforms.ToTensor()])
    return datasets.ImageFolder(str(root), transform=to_tensor)


def read_image_folder_pillow(root: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """What ImageFolder gives, in a few lines of Pillow: classes sorted by name, files
    sorted by name within each, greyscale, ``ToTensor``'s scaling."""
    import numpy as np
    from PIL import Image

    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    images, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((root / name).glob("*.png")):
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("L"), dtype=np.float32) / 255.0)
            labels.append(index)
    if not images:
        raise ValueError(f"{root}: no PNG images in class folders")
    return torch.from_numpy(np.stack(images)).unsqueeze(1), torch.tensor(labels)


class DigitsFolderDataModule(pl.LightningDataModule):
    """Train/val/test splits of an image folder, split with ``seed`` (stratification is
    left out for brevity: 1,797 images split 70/15/15 keep every class in every split)."""

    def __init__(
        self,
        root: str = "data/raw/digits_png",
        batch_size: int = 64,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.root = root
        self.batch_size = batch_size
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.seed = seed
        self.splits: dict[str, TensorDataset] = {}

    def prepare_data(self) -> None:
        if not Path(self.root).is_dir():
            write_digits_pngs(self.root)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        images, labels = read_image_folder(self.root)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.seed))
        n_test = round(len(order) * self.test_fraction)
        n_val = round(len(order) * self.val_fraction)
        parts = {
            "test": order[:n_test],
            "val": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :],
        }
        self.splits = {name: TensorDataset(images[i], labels[i]) for name, i in parts.items()}

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.splits["train"], batch_size=self.batch_size, shuffle=True, generator=generator
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=self.batch_size)


class SmallCNN(nn.Module):
    """Two 3x3 convolution blocks and a dense head, for small greyscale images."""

    def __init__(
        self, channels: int = 16, hidden: int = 64, num_classes: int = 10, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * channels * 16, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DigitsCNN(pl.LightningModule):
    """Classifies images with ``net``; ``optimizer`` and ``scheduler`` are partials from
    config (``_partial_: true``) completed here with the parameters and the optimizer."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., object] | None = None,
        scheduler_monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        self.net = net
        self.optimizer, self.scheduler = optimizer, scheduler
        self.scheduler_monitor = scheduler_monitor
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        logits = self(x)
        self.log("val/loss", self.loss(logits, y), prog_bar=True)
        self.log("val/acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def test_step(self, batch, _):
        x, y = batch
        self.log("test/acc", (self(x).argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        optimizer = self.optimizer(params=self.parameters())
        if self.scheduler is None:
            return optimizer
        scheduler = {"scheduler": self.scheduler(optimizer=optimizer)}
        if isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler["monitor"] = self.scheduler_monitor
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
