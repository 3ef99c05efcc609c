"""Data larger than memory: a 5,000,000-row x 50-feature Parquet table prepared, featurised,
trained, evaluated and baselined with `data.streaming=true`, then a second 5,000,000-row file
monitored (a column at a time), each stage as the `assay` command in its own process;
peak resident memory (ru_maxrss of that process) and wall time per stage. The baseline
in the same run is the in-memory path (`data.streaming=false`, `monitor.in_memory_rows`
above the row count) on the same files, where it is asked for (it needs several GB):

    python benchmarks/scale.py [--rows 5000000] [--features 50] [--in-memory]

The generated data (about 2 GB of Parquet a file) lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
CHUNK = 250_000
CATEGORIES = ["a", "b", "c", "d", "e"]
PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code, file=sys.stderr)
"""


def write_table(path: Path, rows: int, features: int, seed: int, shift: float) -> None:
    """Seeded logistic data in chunks: ``features - 2`` normal columns (two with missing
    values), two categorical columns and a binary target."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    numeric = features - 2
    weights = np.random.default_rng(0).normal(size=numeric) / np.sqrt(numeric)
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        x = rng.normal(size=(n, numeric)).astype(np.float64)
        x[:, 0] += shift
        cats = rng.integers(0, len(CATEGORIES), size=(n, 2))
        logit = x @ weights + 0.5 * (cats[:, 0] == 1)
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        columns = {f"x{i}": x[:, i] for i in range(numeric)}
        for i in (1, 2):
            column = columns[f"x{i}"]
            column[rng.random(n) < 0.02] = np.nan
        columns |= {f"c{j}": np.asarray(CATEGORIES)[cats[:, j]] for j in range(2)}
        columns["target"] = y
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def data_config(features: int) -> dict:
    columns = {f"x{i}": {"dtype": "float", "nullable": i in (1, 2)} for i in range(features - 2)}
    columns |= {f"c{j}": {"dtype": "category", "allowed": CATEGORIES} for j in range(2)}
    columns["target"] = {"dtype": "int", "min": 0, "max": 1}
    return {
        "name": "scale",
        "source": "file",
        "path": "big.parquet",
        "target": "target",
        "task": "binary",
        "streaming": True,
        "columns": columns,
    }


def run(project: Path, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS in GB) of ``assay ARGS`` in its own process."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "assayml.cli.main", "-q", *args],
        cwd=project,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_kb, code = result.stderr.strip().splitlines()[-1].split()
    if int(code) not in (0, 3):
        raise SystemExit(f"assay {' '.join(args)} failed ({code}):\n{result.stderr}")
    return seconds, int(peak_kb) / 1024**2


STAGES = (
    ("prepare", ("prepare",)),
    ("features", ("features",)),
    ("train (1 epoch)", ("train",)),
    ("evaluate", ("evaluate",)),
    ("baseline", ("baseline",)),
)
COMMON = ("logger=none", "trainer.max_epochs=1", "train.batch_size=1024")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--in-memory", action="store_true", help="also the in-memory path")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-scale-") as scratch:
        project = Path(scratch)
        shutil.copytree(REPO / "conf", project / "conf")
        (project / "conf" / "data" / "scale.yaml").write_text(
            yaml.safe_dump(data_config(opts.features), sort_keys=False)
        )
        started = time.perf_counter()
        write_table(project / "big.parquet", opts.rows, opts.features, seed=1, shift=0.0)
        write_table(project / "new.parquet", opts.rows, opts.features, seed=2, shift=0.3)
        size = (project / "big.parquet").stat().st_size / 1024**3
        print(
            f"{opts.rows:,} rows x {opts.features} features (+ target): {size:.2f} GB of "
            f"Parquet a file, written in {time.perf_counter() - started:.0f} s"
        )
        modes = [("streaming", ("data=scale", *COMMON))]
        if opts.in_memory:
            modes.append(("in memory", ("data=scale", "data.streaming=false", *COMMON)))
        results = {}
        for mode, overrides in modes:
            for label, command in STAGES:
                results[(mode, label)] = run(project, *command, *overrides)
                print(
                    f"{mode:9}  {label:16} {results[(mode, label)][0]:7.1f} s "
                    f"{results[(mode, label)][1]:6.2f} GB peak",
                    flush=True,
                )
            rows = opts.rows if mode == "streaming" else opts.rows + 1
            results[(mode, "monitor")] = run(
                project, "monitor", "new.parquet", f"monitor.in_memory_rows={rows - 1}"
            )
            seconds, peak = results[(mode, "monitor")]
            print(f"{mode:9}  {'monitor':16} {seconds:7.1f} s {peak:6.2f} GB peak", flush=True)
            report = json.loads((project / "reports" / "monitor" / "monitor.json").read_text())
            drifted = [k for k, v in report["drift"].items() if v["drifted"]]
            print(
                f"           monitor found drift in {drifted}; accuracy "
                f"{report['model_quality']['current']:.4f}"
            )
        worst = max(peak for (mode, _), (_, peak) in results.items() if mode == "streaming")
        print(f"streaming: highest peak {worst:.2f} GB (target < 2 GB)")
        if opts.in_memory:
            for label in [s for s, _ in STAGES] + ["monitor"]:
                ratio = results[("in memory", label)][1] / results[("streaming", label)][1]
                print(f"in memory / streaming peak, {label}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
