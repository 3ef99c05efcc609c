"""Pipeline overheads: a no-op `dvc repro`; `dvc exp run -S model.lr=X` run a second time
from the committed workspace (restored from DVC's run-cache) against its first run; and a
6-job sweep (one MLP, seeds 1 to 6) with the joblib launcher against the same sweep run
sequentially (Hydra's basic launcher), in one run.

    python benchmarks/pipeline.py [--rows 50000] [--epochs 30] [--no-sweep]

Builds a throwaway git + DVC copy of this project in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("conf", "src", "dvc.yaml", "pyproject.toml", "data/raw/README.md")


def sh(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
    )
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_project(root: Path) -> Path:
    for name in COPY:
        source, target = ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    shutil.copy2(ROOT / ".gitignore", root / ".gitignore")
    sh(root, "git", "init", "-q")
    sh(root, "git", "config", "user.email", "bench@assayml.invalid")
    sh(root, "git", "config", "user.name", "bench")
    sh(root, sys.executable, "-m", "dvc", "init", "-q")
    shutil.copy2(ROOT / ".dvc" / "config", root / ".dvc" / "config")
    sh(root, sys.executable, "-m", "assayml.cli.main", "compose")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "bench")
    return root


def timed(cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    sh(cwd, *args)
    return time.perf_counter() - start


def run_cache(project: Path) -> tuple[float, float]:
    """Seconds of a first `dvc exp run -S model.lr=0.003`, and of the same after going back
    to the committed workspace (every stage from train on restored from the run-cache)."""
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "pipeline run")
    exp = (sys.executable, "-m", "dvc", "exp", "run", "-S", "model.lr=0.003")
    first = timed(project, *exp)
    sh(project, "git", "checkout", "-q", ".")
    sh(project, sys.executable, "-m", "dvc", "checkout", "-q")
    start = time.perf_counter()
    out = sh(project, *exp).stdout
    again = time.perf_counter() - start
    if "Stage 'train' is cached" not in out:
        raise SystemExit(f"train was not restored from the run-cache:\n{out}")
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="credit_synthetic rows")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweep comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        project = make_project(Path(tmp) / "project")
        dvc = (sys.executable, "-m", "dvc", "repro")
        sh(project, *dvc)
        noop = min(timed(project, *dvc) for _ in range(args.repeats))
        print(f"no-op dvc repro: {noop:.2f} s (best of {args.repeats}; target < 3 s)")
        first, again = run_cache(project)
        print(
            f"dvc exp run -S model.lr=0.003: first {first:.1f} s, again from the committed "
            f"workspace {again:.1f} s (run-cache restores train and after), {first / again:.1f}x"
        )
        if args.no_sweep:
            return

        sweep = (
            sys.executable,
            "-m",
            "assayml.cli.main",
            "run",
            "-m",
            "model=mlp",
            "seed=1,2,3,4,5,6",
            "data=credit_synthetic",
            f"data.n_rows={args.rows}",
            f"trainer.max_epochs={args.epochs}",
            "train.early_stopping.enabled=false",
            "trainer.enable_progress_bar=false",
            "logger=none",
        )
        sequential = timed(project, *sweep, "hydra.sweep.dir=sweeps/sequential")
        parallel = timed(project, *sweep, "hydra/launcher=joblib", "hydra.sweep.dir=sweeps/joblib")
        print(
            f"6-job sweep (credit_synthetic, {args.rows} rows, {args.epochs} epochs a job, "
            f"{os.cpu_count()} cores): "
            f"sequential {sequential:.1f} s, joblib {parallel:.1f} s, "
            f"speed-up {sequential / parallel:.2f}x (target >= 1.6x)"
        )


if __name__ == "__main__":
    main()
