"""Data-quality insights at prepare: 1,000,000 rows x 50 columns (40 numeric, 8 text, an
identifier and a 0/1 label), in memory (every check over the whole table, leakage on the
70 % training split) and streamed (65,536-row batches plus a 100,000-row training sample),
against the profile that prepare already computes over the same table in the same run:

    python benchmarks/insights.py [--rows 1000000]

The goal is under 5 s for either path on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from assayml.config.schema import InsightsConfig
from assayml.data import insights
from assayml.data.insights_stream import StreamingInsights
from assayml.data.profile import summarise

BATCH = 65_536


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = {f"x{i}": rng.normal(size=rows) for i in range(40)}
    frame |= {f"c{i}": rng.choice(["a", "b", "c", "d", "e"], rows) for i in range(8)}
    frame["id"] = np.arange(rows)
    frame["y"] = (frame["x0"] + rng.normal(size=rows) > 0).astype(np.int64)
    frame = pd.DataFrame(frame)
    frame.loc[rng.random(rows) < 0.3, "x1"] = np.nan
    return frame


def in_memory(frame: pd.DataFrame, train: pd.DataFrame, cfg: InsightsConfig) -> list:
    found = insights.column_insights(frame, frame, "y", cfg)
    found += insights.table_insights(frame, "y", "binary", cfg)
    return found + insights.leakage_insights(train, "y", "binary", cfg, 0)


def streamed(frame: pd.DataFrame, sample: pd.DataFrame, cfg: InsightsConfig) -> list:
    seen = StreamingInsights("y", cfg)
    for start in range(0, len(frame), BATCH):
        seen.add(frame.iloc[start : start + BATCH])
    found = seen.finish(sample, "binary")
    return found + insights.leakage_insights(sample, "y", "binary", cfg, 0)


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    frame, cfg = table(rows), InsightsConfig()
    # prepare has the training split (and, streamed, its sample) already: not timed here
    train = frame.sample(frac=0.7, random_state=0)
    sample = train.sample(min(100_000, len(train)), random_state=0)
    profile_s, _ = timed(summarise, frame)
    memory_s, found = timed(in_memory, frame, train, cfg)
    stream_s, found_streamed = timed(streamed, frame, sample, cfg)
    print(f"table: {rows:,} rows x {frame.shape[1]} columns")
    print(f"profile (baseline)   {profile_s:6.2f} s")
    print(f"insights, in memory  {memory_s:6.2f} s  ({memory_s / profile_s:.2f}x the profile)")
    print(f"insights, streamed   {stream_s:6.2f} s  ({stream_s / profile_s:.2f}x the profile)")
    print("found:", insights.summary(found))
    print("found (streamed):", insights.summary(found_streamed))


if __name__ == "__main__":
    main()
