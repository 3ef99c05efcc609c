"""Uncertainty costs, each against its baseline in the same run:

1. a 5-member deep ensemble trained as one stacked network against 5 single networks
   trained one after another (the same members: seeds 42..46, same data, epochs, batch);
2. MC dropout (T = 50) as batched forwards against a Python loop of 50 passes, at 1, 16,
   256 and 10,000 rows.

    python benchmarks/uncertainty.py [--rows 5000] [--epochs 20] [--device cpu|cuda]

With ``--device cuda`` both trainings run under ``trainer=gpu`` and the MC-dropout network
and inputs live on the GPU (each timed call waits for the device to finish).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEVICE_OVERRIDES = {"cpu": (), "cuda": ("trainer=gpu",)}
DEVICE = ["cpu"]  # set from --device in main()


def config(workdir: Path, epochs: int, *overrides: str):
    from assayml.config import compose, to_typed

    return to_typed(
        compose(
            [
                "data=credit_synthetic",
                f"trainer.max_epochs={epochs}",
                "model=mlp",
                "model.dropout=0.0",
                "train.early_stopping.enabled=false",
                "logger=none",
                "trainer.enable_progress_bar=false",
                f"paths.out_dir={workdir}",
                *DEVICE_OVERRIDES[DEVICE[0]],
                *overrides,
            ],
            ROOT / "conf",
        )
    )


def prepared(workdir: Path, rows: int):
    from assayml.stages.table import get_stage
    from assayml.train.datamodule import FeatureDataModule

    cfg = config(workdir, 1, f"data.n_rows={rows}")
    for stage in ("prepare", "features"):
        get_stage(stage).run(cfg)
    return lambda: FeatureDataModule.from_dir(cfg.paths.features_dir, batch_size=64)


def time_ensemble(workdir: Path, data, epochs: int, rows: int, members: int) -> tuple[float, float]:
    from assayml.train.fit import fit_network

    stacked_cfg = config(
        workdir,
        epochs,
        f"data.n_rows={rows}",
        "uncertainty=ensemble",
        f"uncertainty.members={members}",
    )
    start = time.perf_counter()
    fit_network(stacked_cfg, data(), 2, "binary")
    stacked = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(members):
        fit_network(
            config(workdir, epochs, f"data.n_rows={rows}", f"seed={42 + i}"), data(), 2, "binary"
        )
    return stacked, time.perf_counter() - start


def where(device: str) -> str:
    if device == "cuda":
        return f"on {torch.cuda.get_device_name()}"
    return f"{torch.get_num_threads()} threads"


def loop_passes(net, x: torch.Tensor, samples: int) -> torch.Tensor:
    """The baseline: dropout on, one forward per pass."""
    net.train()
    with torch.no_grad():
        return torch.stack([net(x) for _ in range(samples)])


def time_call(fn, budget: float = 0.2) -> float:
    """Mean seconds per call over at least ``budget`` seconds (one warm-up call first);
    on a GPU each call waits for the device to finish its work."""
    wait = torch.cuda.synchronize if DEVICE[0] == "cuda" else (lambda: None)
    fn()
    wait()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < budget or calls < 2:
        fn()
        wait()
        calls += 1
    return (time.perf_counter() - start) / calls


def best_of_interleaved(first, second, rounds: int = 5) -> tuple[float, float]:
    """The best time of each of two functions, measured alternately (shared machine noise
    falls on both)."""
    a, b = [], []
    for _ in range(rounds):
        a.append(time_call(first))
        b.append(time_call(second))
    return min(a), min(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="credit_synthetic rows")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--device", choices=sorted(DEVICE_OVERRIDES), default="cpu")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    DEVICE[0] = args.device
    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    try:
        data = prepared(workdir, args.rows)
        time_ensemble(workdir, data, 1, args.rows, 2)  # warm-up: imports, allocator
        stacked, sequential = time_ensemble(workdir, data, args.epochs, args.rows, args.members)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"ensemble of {args.members} MLPs, credit_synthetic {args.rows} rows, "
        f"{args.epochs} epochs, batch 64, {where(args.device)}: "
        f"stacked {stacked:.2f} s, {args.members} sequential {sequential:.2f} s, "
        f"speed-up {sequential / stacked:.2f}x (target >= 3x)"
    )

    from assayml.models.networks import build_mlp
    from assayml.uncertainty.mc_dropout import mc_dropout_samples

    torch.manual_seed(0)
    net = build_mlp(30, 2, hidden=64, layers=2, dropout=0.2).to(args.device)
    print(f"MC dropout, T = 50, MLP 30-64-64-2, {where(args.device)}:")
    for rows in (1, 16, 256, 10_000):
        x = torch.randn(rows, 30).to(args.device)
        batched, looped = best_of_interleaved(
            lambda x=x: mc_dropout_samples(net, x, 50, seed=0), lambda x=x: loop_passes(net, x, 50)
        )
        print(
            f"  {rows:>6} rows: batched {batched * 1e3:8.3f} ms, loop {looped * 1e3:8.3f} ms, "
            f"speed-up {looped / batched:5.2f}x"
        )
    print("targets: >= 5x at 1 row, never slower than the loop")


if __name__ == "__main__":
    main()
