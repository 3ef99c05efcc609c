"""What does composing a config cost, with and without assayml.config.hydra_speedups?

Composes ``conf/`` (the tiny-run overrides the tests use, and a different model and data
each round so no two composes are alike) and reads ``params.yaml`` both ways, interleaved
in one process: Hydra's and OmegaConf's own functions (``hydra_speedups.paused()``) against
the quicker ones, for a process's first compose (no file parsed yet) and a later one.
Prints best-of and median milliseconds and their ratios, and checks that both give the
same config. Then validation (``to_typed``) of each round's config: every column entry left
to OmegaConf's merge of the whole data config (as before 2026-12-03) against entries typed
one by one (``config/load.py``), checked equal as typed objects.

    python benchmarks/compose.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = (
    ("model=mlp", "data=breast_cancer"),
    ("model=logreg", "data=wine"),
    ("model=residual_mlp", "data=credit_synthetic"),
    ("model=cnn", "data=digits"),
)
TINY = ("trainer.max_epochs=3", "trainer.enable_progress_bar=false", "logger=none")


def typed(value):
    """Every leaf with its type, so that 1 == 1.0 == True cannot pass."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (value, type(value))


def merged_to_typed(cfg):
    """to_typed with every column entry left to OmegaConf's merge."""
    from assayml.config import load

    kept = load._plain_entries
    load._plain_entries = lambda columns: False
    try:
        return load.to_typed(cfg)
    finally:
        load._plain_entries = kept


def timed(work, *args) -> float:
    start = time.perf_counter()
    work(*args)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    from omegaconf import OmegaConf

    from assayml.config import compose, hydra_speedups, load_params, to_typed

    conf, params = ROOT / "conf", ROOT / "params.yaml"
    compose([], conf)  # Hydra's plugin scan and first imports, outside the timings
    times: dict[str, list[float]] = {
        name: [] for name in ("stock", "cold", "warm", "stock_params", "fast_params")
    }
    typing: dict[str, tuple[list[float], list[float]]] = {}  # data set -> (merged, typed)
    for i in range(args.repeats):
        overrides = [*TINY, *ROUNDS[i % len(ROUNDS)]]
        with hydra_speedups.paused():
            times["stock"].append(timed(compose, overrides, conf))
            times["stock_params"].append(timed(load_params, params))
            stock = typed(OmegaConf.to_container(compose(overrides, conf)))
        # paused() forgot every kept parse: the first compose after it is a process's first
        times["cold"].append(timed(compose, overrides, conf))
        times["warm"].append(timed(compose, overrides, conf))
        times["fast_params"].append(timed(load_params, params))
        composed = compose(overrides, conf)
        if typed(OmegaConf.to_container(composed)) != stock:
            print(f"DIFFERENT configs for {overrides}", file=sys.stderr)
            return 1
        merged, one_by_one = typing.setdefault(overrides[-1].split("=")[1], ([], []))
        merged.append(timed(merged_to_typed, composed))
        one_by_one.append(timed(to_typed, composed))
        # as dicts: a custom builder's model schema is a class made anew for each call
        if asdict(to_typed(composed)) != asdict(merged_to_typed(composed)):
            print(f"DIFFERENT typed configs for {overrides}", file=sys.stderr)
            return 1
    validated = [timed(lambda: to_typed(compose([*TINY], conf))) for _ in range(3)]

    def row(name: str, stock: list[float], fast: list[float]) -> None:
        best, median = min(stock) / min(fast), statistics.median(stock) / statistics.median(fast)
        print(
            f"{name:<22} stock {min(stock):6.1f} / {statistics.median(stock):6.1f} ms   "
            f"fast {min(fast):6.1f} / {statistics.median(fast):6.1f} ms   "
            f"x{best:.2f} best-of, x{median:.2f} median"
        )

    print(f"{args.repeats} interleaved rounds (best-of / median):")
    row("compose, first", times["stock"], times["cold"])
    row("compose, files seen", times["stock"], times["warm"])
    row("load params.yaml", times["stock_params"], times["fast_params"])
    for name, (merged, one_by_one) in typing.items():
        row(f"to_typed {name}", merged, one_by_one)
    print(f"for scale: compose + to_typed, fast, best of 3: {min(validated):.1f} ms")
    print("same configs and typed configs both ways: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
