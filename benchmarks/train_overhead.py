"""How much does `assay train` (Lightning, checkpointing, early stopping, logger, progress
bar) cost over a hand-written PyTorch loop doing the same work?

Both train the same MLP on the same synthetic 200,000-row table, same batch size, epochs,
seed, optimiser and validation pass per epoch; the ratio of their wall times is printed.
Also prints the start-up time of `assay --help`.

    python benchmarks/train_overhead.py [--rows 200000] [--epochs 5] [--batch-size 256]
                                        [--device cpu|cuda]

With ``--device cuda``, `assay train` runs under ``trainer=gpu`` and gets the table in
host memory, as it loads it (Lightning moves each group of ``train.fused_steps`` batches to
the GPU); the hand-written loop holds the whole table and its network on the GPU, moved
there before its clock starts, as one would write it for a table this size. So the ratio
counts assay's transfers as overhead.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
DEVICE_OVERRIDES = {"cpu": [], "cuda": ["trainer=gpu"]}


def synthetic(rows: int, features: int, seed: int = 0, w: torch.Tensor | None = None):
    """Rows drawn from ``seed``, labelled by ``w`` (drawn from the seed when not given: the
    validation rows take the training rows' ``w``, so that they pose the same task)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=gen)
    drawn = torch.randn(features, generator=gen)
    w = drawn if w is None else w
    y = ((x @ w + 0.5 * torch.randn(rows, generator=gen)) > 0).long()
    return x, y, w


def plain_loop(cfg, x, y, xv, yv, epochs: int, device: str = "cpu") -> float:
    """The baseline: the loop one would write by hand, same network and data order."""
    from assayml.models.build import architecture_kwargs, build_network
    from assayml.train.batches import TensorBatches

    torch.manual_seed(cfg.seed)
    net = build_network(cfg.model._target_, architecture_kwargs(cfg.model), x.shape[1], 2)
    net = net.to(device)
    x, y, xv, yv = (t.to(device) for t in (x, y, xv, yv))  # no copies on the CPU
    opt = torch.optim.Adam(net.parameters(), lr=cfg.model.lr, weight_decay=cfg.model.weight_decay)
    batches = TensorBatches(x, y, cfg.train.batch_size, shuffle=True, seed=cfg.seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        batches.sampler.set_epoch(epoch)
        for xb, yb in batches:
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            F.cross_entropy(net(xv), yv).item()
    return time.perf_counter() - start


def assay_fit(cfg, x, y, xv, yv) -> float:
    from assayml.train.datamodule import FeatureDataModule, SplitTensors
    from assayml.train.fit import fit_network

    start = time.perf_counter()
    data = FeatureDataModule(SplitTensors(x, y), SplitTensors(xv, yv), cfg.train.batch_size)
    fit_network(cfg, data, 2, "binary")
    return time.perf_counter() - start


def config(
    workdir: Path,
    epochs: int,
    batch_size: int,
    progress: bool,
    fused: int | None = None,
    device: str = "cpu",
):
    from assayml.config import compose, to_typed

    overrides = [
        *DEVICE_OVERRIDES[device],
        f"trainer.max_epochs={epochs}",
        f"train.batch_size={batch_size}",
        "train.early_stopping.enabled=false",
        "model.dropout=0.0",
        f"trainer.enable_progress_bar={progress}",
        f"paths.out_dir={workdir}",
    ]
    if fused is not None:
        overrides.append(f"train.fused_steps={fused}")
    return to_typed(compose(overrides, ROOT / "conf"))


def help_startup(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assayml.cli.main", "--help"], check=True,
                       capture_output=True)  # fmt: skip
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=sorted(DEVICE_OVERRIDES), default="cpu")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    device = args.device

    x, y, w = synthetic(args.rows, args.features)
    xv, yv, _ = synthetic(args.rows // 10, args.features, seed=1, w=w)
    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    try:
        # imports, thread pools, allocator (and CUDA's context and kernels)
        warm = config(workdir, 1, args.batch_size, False, device=device)
        plain_loop(warm, x, y, xv, yv, 1, device)
        assay_fit(warm, x, y, xv, yv)
        results = {}
        variants = {
            "assay train (progress bar on)": dict(progress=True),
            "assay train (progress bar off)": dict(progress=False),
            "one optimiser step per Lightning step (train.fused_steps=1)": dict(
                progress=True, fused=1
            ),
        }
        for name, variant in variants.items():
            cfg = config(workdir, args.epochs, args.batch_size, **variant, device=device)
            plain, assay = [], []
            for _ in range(args.repeats):  # interleaved, best of each
                plain.append(plain_loop(cfg, x, y, xv, yv, args.epochs, device))
                assay.append(assay_fit(cfg, x, y, xv, yv))
            paired = sorted(a / p for p, a in zip(plain, assay, strict=True))
            results[name] = (min(plain), min(assay), paired[len(paired) // 2])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    steps = args.epochs * -(-args.rows // args.batch_size)
    print(f"rows={args.rows} features={args.features} batch={args.batch_size} "
          f"epochs={args.epochs} steps={steps} threads={torch.get_num_threads()}")  # fmt: skip
    if device == "cuda":
        print(f"device: {torch.cuda.get_device_name()} (trainer=gpu)")
    print("best of each (and the median of paired ratios, which resists machine noise):")
    for name, (plain, assay, median) in results.items():
        print(
            f"  {name}: plain loop {plain:.2f} s, assay {assay:.2f} s, "
            f"ratio {assay / plain:.3f} (median {median:.3f}), "
            f"overhead {1e6 * (assay - plain) / steps:.0f} us/step"
        )
    print(f"assay --help start-up: {help_startup():.3f} s")


if __name__ == "__main__":
    main()
