"""`trainer=ddp` on CPU: two gloo processes through the real CLI. One Hydra run directory
per run (and per sweep job), rank 0 alone writes, and the result is the single-process
one: the same weights up to rounding without dropout, the same test metrics with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests import cli_fork
from tests.conftest import cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
QUICK = ("trainer.max_epochs=6", "trainer.enable_progress_bar=false", "logger=none")


def assay(project: Path, *args: str) -> subprocess.CompletedProcess:
    result = cli_fork.run(
        [*ASSAY, *args], cwd=project, env=cli_env(), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def train(project: Path, *args: str) -> tuple[dict, dict]:
    before = runs(project)
    assay(project, "train", *QUICK, *args)
    assert len(runs(project) - before) == 1  # one Hydra run folder, whatever the ranks
    assay(project, "evaluate")
    weights = load_file(str(project / "models" / "model.safetensors"))
    return weights, json.loads((project / "metrics" / "evaluate.json").read_text())


@pytest.fixture
def featured(project: Path) -> Path:
    assay(project, "prepare")
    assay(project, "features")
    return project


def runs(project: Path) -> set[str]:
    folder = project / ".assay" / "runs"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


@pytest.mark.slow
def test_ddp_matches_one_process_and_makes_one_run_dir(featured: Path) -> None:
    single, single_metrics = train(featured, "model=logreg")
    ddp, ddp_metrics = train(featured, "model=logreg", "trainer=ddp")
    record = json.loads((featured / "records" / "train.json").read_text())
    assert record["details"]["processes"] == 2
    # Half of each batch per rank, losses weighted by share: the same gradients.
    assert max((single[k] - ddp[k]).abs().max().item() for k in single) < 1e-5
    assert ddp_metrics["accuracy"] == single_metrics["accuracy"]
    assert ddp_metrics["auroc"] == pytest.approx(single_metrics["auroc"], abs=1e-4)
    assert not list(featured.rglob(".ddp_config.yaml"))  # the workers' config is removed


@pytest.mark.slow
def test_ddp_with_dropout_and_in_a_sweep(featured: Path) -> None:
    _, single = train(featured, "model=mlp")
    cheap = (
        "explain.methods=[saliency]",
        "explain.global_rows=20",
        "explain.samples=20",
        "explain.permutation_repeats=1",
        "monitor.attribution_rows=20",
    )
    assay(featured, "run", "-m", *QUICK, *cheap, "model=mlp", "trainer=ddp", "seed=42,7")
    sweeps = list((featured / "multirun").iterdir())
    jobs = sorted(p.name for p in sweeps[0].iterdir() if p.is_dir())
    assert len(sweeps) == 1 and jobs == ["0", "1"]  # two job folders and nothing more
    job = sweeps[0] / "0"
    assert json.loads((job / "run.json").read_text())["exit_code"] == 0
    assert json.loads((job / "records" / "train.json").read_text())["details"]["processes"] == 2
    ddp = json.loads((job / "metrics" / "evaluate.json").read_text())
    # Dropout masks differ between one process and two: metrics agree within 0.02.
    assert ddp["accuracy"] == pytest.approx(single["accuracy"], abs=0.02)
    assert ddp["auroc"] == pytest.approx(single["auroc"], abs=0.02)


def _worker_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if proc.name.isdigit() and b"assayml.train.ddp_worker" in cmdline:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker through /proc")
def test_a_dead_rank_stops_the_run_and_leaves_the_old_model(featured: Path) -> None:
    import os
    import signal
    import time

    assay(featured, "train", *QUICK)
    before = (featured / "models" / "model.safetensors").read_bytes()
    run = subprocess.Popen(
        [
            *ASSAY,
            "train",
            "trainer=ddp",
            "trainer.max_epochs=5000",
            "logger=none",
            "train.early_stopping.enabled=false",
            "trainer.enable_progress_bar=false",
        ],
        cwd=featured,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (pids := _worker_pids()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pids, "the DDP worker never started"
    time.sleep(3)  # inside fit, in the collectives
    os.kill(pids[0], signal.SIGKILL)
    _, stderr = run.communicate(timeout=60)  # not gloo's 30-minute timeout
    assert run.returncode == 1
    assert "DDP rank 1 failed" in stderr
    assert (featured / "models" / "model.safetensors").read_bytes() == before
