"""What do the training debugger's default rules cost? The same fit (same network, data,
seed and epochs) with ``debugger=default`` and ``debugger=off``, run interleaved in one
process; prints best-of and median times of each and their ratio, for fused steps (the
default) and plain Lightning steps (``train.fused_steps=1``, where a check is due every
``debugger.every_n_steps`` steps). Also checks that both give the same weights, and
prints the time spent inside the callback's hooks as a share of the fit: on a busy machine
the wall-time ratio swings by more than the debugger costs, that share does not.

    python benchmarks/debugger_overhead.py [--rows 50000] [--epochs 4] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_overhead import synthetic  # noqa: E402  (same table as the train benchmark)


def config(workdir: Path, epochs: int, batch_size: int, debugger: str, fused: int | None):
    from assayml.config import compose, to_typed

    overrides = [
        f"trainer.max_epochs={epochs}",
        f"train.batch_size={batch_size}",
        "train.early_stopping.enabled=false",
        "trainer.enable_progress_bar=false",
        "logger=none",
        f"debugger={debugger}",
        f"paths.out_dir={workdir}",
    ]
    if fused is not None:
        overrides.append(f"train.fused_steps={fused}")
    return to_typed(compose(overrides, ROOT / "conf"))


HOOKS = (
    "on_train_start",
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_before_optimizer_step",
    "on_train_batch_end",
    "on_train_end",
)
INSIDE = [0.0]  # seconds spent inside the debugger's hooks
CPU = [0.0]  # this process's CPU seconds in the last fit (less swayed by other processes)


def time_hooks() -> None:
    """Wrap the callback's hooks with a timer (this benchmark only)."""
    from assayml.train.debugger import TrainingDebugger

    for name in HOOKS:
        hook = getattr(TrainingDebugger, name)

        def timed(*args, _hook=hook, **kwargs):
            start = time.perf_counter()
            try:
                return _hook(*args, **kwargs)
            finally:
                INSIDE[0] += time.perf_counter() - start

        setattr(TrainingDebugger, name, timed)


def fit(cfg, x, y, xv, yv) -> tuple[float, dict]:
    from assayml.train.datamodule import FeatureDataModule, SplitTensors
    from assayml.train.fit import fit_network

    start, cpu = time.perf_counter(), time.process_time()
    data = FeatureDataModule(SplitTensors(x, y), SplitTensors(xv, yv), cfg.train.batch_size)
    result = fit_network(cfg, data, 2, "binary")
    CPU[0] = time.process_time() - cpu
    return time.perf_counter() - start, result.state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.chdir(ROOT)  # conf/ and its schema files are read from the project root

    x, y = synthetic(args.rows, args.features)
    xv, yv = synthetic(args.rows // 10, args.features, seed=1)
    workdir = Path(tempfile.mkdtemp(prefix="assay-debugger-bench-"))
    rows = []
    time_hooks()
    try:
        fit(config(workdir, 1, args.batch_size, "default", None), x, y, xv, yv)  # warm-up
        for label, fused in (("fused steps (default)", None), ("train.fused_steps=1", 1)):
            cfgs = {
                d: config(workdir, args.epochs, args.batch_size, d, fused)
                for d in ("off", "default")
            }
            times: dict[str, list[float]] = {"off": [], "default": []}
            cpus: dict[str, list[float]] = {"off": [], "default": []}
            states, shares = {}, []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                for name, cfg in cfgs.items():
                    INSIDE[0] = 0.0
                    seconds, states[name] = fit(cfg, x, y, xv, yv)
                    times[name].append(seconds)
                    cpus[name].append(CPU[0])
                    if name == "default":
                        shares.append(INSIDE[0] / seconds)
            same = all(torch.equal(states["off"][k], v) for k, v in states["default"].items())
            rows.append((label, times, same, shares, cpus))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    steps = args.epochs * -(-int(args.rows) // args.batch_size)
    print(f"rows={args.rows} features={args.features} batch={args.batch_size} "
          f"epochs={args.epochs} optimiser steps={steps} repeats={args.repeats} "
          f"threads={torch.get_num_threads()}")  # fmt: skip
    for label, times, same, shares, cpus in rows:
        off, on = times["off"], times["default"]
        paired = statistics.median(b / a for a, b in zip(off, on, strict=True))
        print(
            f"  {label}: off best {min(off):.3f} s median {statistics.median(off):.3f} s; "
            f"on best {min(on):.3f} s median {statistics.median(on):.3f} s; "
            f"ratio best-of {min(on) / min(off):.3f}, median of paired {paired:.3f}; "
            f"weights identical: {same}"
        )
        cpu_off, cpu_on = cpus["off"], cpus["default"]
        print(
            f"    CPU time: off best {min(cpu_off):.3f} s, on best {min(cpu_on):.3f} s, ratio "
            f"best-of {min(cpu_on) / min(cpu_off):.3f}, median of paired "
            f"{statistics.median(b / a for a, b in zip(cpu_off, cpu_on, strict=True)):.3f}"
        )
        print(
            f"    time inside the callback's hooks: median {100 * statistics.median(shares):.1f} "
            f"%, max {100 * max(shares):.1f} % of the fit"
        )


if __name__ == "__main__":
    main()
