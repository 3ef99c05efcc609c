"""Monitoring speed and memory: 1,000,000 current rows x 50 numeric features against a
baseline of the same size (data quality and KS drift per feature with the correction), as
`assay monitor` runs them, against SciPy's `ks_2samp` column by column in the same run;
optionally against Evidently's data-drift preset in its own environment (it needs
pandas < 3):

    python benchmarks/monitor.py [--rows 1000000] [--features 50]
        [--evidently-python /path/to/venv/bin/python]

Memory is the peak of allocations during the monitoring step (tracemalloc, which sees
NumPy's and pandas' buffers), so beyond the data already loaded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from assayml.config.schema import MonitorConfig
from assayml.monitor import baseline as base
from assayml.monitor import checks
from assayml.monitor.inputs import load_baseline

EVIDENTLY = """
import json, resource, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
start = time.perf_counter()
Report([DataDriftPreset()]).run(reference_data=reference, current_data=current)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"seconds": seconds, "peak_rss_gb": peak}))
"""


def frames(rows: int, features: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    columns = [f"x{j}" for j in range(features)]
    reference = pd.DataFrame(rng.normal(size=(rows, features)), columns=columns)
    current = pd.DataFrame(rng.normal(size=(rows, features)), columns=columns)
    current.iloc[:, :5] += 0.3  # five features drift (KS D about 0.12)
    return reference, current


def write_baseline(reference: pd.DataFrame, folder: Path, cfg: MonitorConfig) -> None:
    stats = [base.feature_statistics(c, reference[c], "Fractional", 20) for c in reference]
    constraints = {
        "features": [base.feature_constraints(s, {}, cfg) for s in stats],
        "monitoring_config": base.monitoring_config(cfg),
    }
    (folder / "statistics.json").write_text(json.dumps({"features": stats}))
    (folder / "constraints.json").write_text(json.dumps(constraints))
    blob = base.reference_bytes(reference, list(reference), cfg.reference_rows, 0, {})
    (folder / "reference.npz").write_bytes(blob)


def monitor(folder: Path, current: pd.DataFrame) -> tuple[int, dict]:
    """What `assay monitor` does for the data: load the baseline, check quality, test drift.
    The number of violations, and the drift results."""
    baseline = load_baseline(folder)
    found = checks.data_quality(current, baseline.constraints)
    drift = checks.feature_drift(
        current, baseline.statistics, baseline.rules, baseline.references, baseline.settings
    )
    return len(found) + len(checks.drift_violations(drift)), drift


def scipy_columns(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    from scipy.stats import ks_2samp

    return {c: ks_2samp(reference[c].to_numpy(), current[c].to_numpy()) for c in reference}


def largest_differences(ours: dict, scipy: dict) -> tuple[float, float]:
    """How far our D and (relatively) our p lie from SciPy's."""
    d = max(abs(ours[c]["statistic"] - scipy[c].statistic) for c in scipy)
    p = max(abs(ours[c]["p_value"] - scipy[c].pvalue) / max(scipy[c].pvalue, 1e-300) for c in scipy)
    return d, p


def evidently(python: str, reference: pd.DataFrame, current: pd.DataFrame, tmp: Path) -> dict:
    reference.to_parquet(tmp / "reference.parquet")
    current.to_parquet(tmp / "current.parquet")
    result = subprocess.run(
        [python, "-c", EVIDENTLY, str(tmp / "reference.parquet"), str(tmp / "current.parquet")],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"Evidently failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--evidently-python", help="a Python with evidently and pandas<3")
    args = parser.parse_args()
    import scipy.stats  # imported before either side is timed

    reference, current = frames(args.rows, args.features)
    cfg = MonitorConfig()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        write_baseline(reference, folder, cfg)
        built = time.perf_counter() - start
        start = time.perf_counter()
        violations, drift = monitor(folder, current)
        ours = time.perf_counter() - start
        tracemalloc.start()
        monitor(folder, current)
        peak = tracemalloc.get_traced_memory()[1] / 2**30
        tracemalloc.stop()
        # SciPy gets the float32 values the monitor tests (the reference stores float32).
        reference32, current32 = reference.astype(np.float32), current.astype(np.float32)
        start = time.perf_counter()
        expected = scipy_columns(reference32, current32)
        scipy = time.perf_counter() - start
        d_diff, p_diff = largest_differences(drift, expected)
        other = (
            evidently(args.evidently_python, reference, current, folder)
            if (args.evidently_python)
            else None
        )
    data_gb = (reference.memory_usage().sum() + current.memory_usage().sum()) / 2**30
    print(
        f"monitor {args.rows:,} rows x {args.features} features against a baseline of "
        f"{args.rows:,} (data {data_gb:.2f} GB):"
    )
    print(f"  baseline built in {built:.2f} s (once, at `assay baseline`)")
    print(
        f"  assay monitor (quality + KS drift): {ours:.2f} s, peak {peak:.2f} GB beyond the "
        f"data, {violations} violations (target < 3 s, < 1 GB)"
    )
    print(f"  SciPy ks_2samp per column: {scipy:.2f} s; ratio {scipy / ours:.1f}x")
    print(f"  largest difference from SciPy: D {d_diff:.1e}, p {p_diff:.1e} (relative)")
    if other:
        print(
            f"  Evidently DataDriftPreset: {other['seconds']:.2f} s, peak RSS "
            f"{other['peak_rss_gb']:.2f} GB; ratio {other['seconds'] / ours:.1f}x"
        )


if __name__ == "__main__":
    main()
