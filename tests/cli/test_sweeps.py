"""Sweeps: isolated jobs, a ranked summary, failures that don't stop the sweep, joblib in
parallel, and the Optuna search (seeded, resumable, failure-tolerant, best params written)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import cli_fork
from tests.conftest import REPO, TINY, cli_env


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=900,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    return tmp_path


def summary(sweep: Path) -> list[dict[str, str]]:
    with open(sweep / "summary.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_multirun_jobs_are_isolated_and_summarised_best_first(project: Path) -> None:
    sweep = project / "sweep"
    result = assay(
        project, "run", "-m", "model=logreg,mlp", "seed=1,2", *TINY, f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 0, result.stderr
    assert not (project / "models").exists()  # pipeline outputs untouched
    for job in range(4):
        assert (sweep / str(job) / "models" / "model.safetensors").is_file()
        assert (sweep / str(job) / "run.json").is_file()
    rows = summary(sweep)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    accuracy = [float(r["accuracy"]) for r in rows]
    assert accuracy == sorted(accuracy, reverse=True)
    assert "ranked by accuracy (maximize)" in (sweep / "summary.md").read_text()

    listed = assay(project, "runs", "--json")
    runs = {Path(r["id"]).name: r for r in json.loads(listed.stdout)}
    assert set(runs) == {"0", "1", "2", "3"} and runs["3"]["overrides"][:2] == [
        "model=mlp",
        "seed=2",
    ]
    table = assay(project, "runs").stdout
    assert "sweep/0" in table and "model=logreg seed=1" in table
    diff = assay(project, "runs", "compare", "sweep/0", "sweep/3")
    assert diff.returncode == 0, diff.stderr
    assert "seed: 1 -> 2" in diff.stdout and "model.name: 'logreg' -> 'mlp'" in diff.stdout
    assert "data: same" in diff.stdout and "accuracy" in diff.stdout
    short = assay(project, "runs", "compare", "0", "3")  # unique endings are enough
    assert short.returncode == 0 and "A = sweep/0" in short.stdout
    unknown = assay(project, "runs", "compare", "nope", "3")
    assert unknown.returncode == 2 and "no run matches 'nope'" in unknown.stderr


@pytest.mark.slow
def test_a_failing_job_is_recorded_and_the_sweep_goes_on(project: Path) -> None:
    sweep = project / "sweep"
    result = assay(
        project, "run", "-m", "data.split.train=0.7,0.9", *TINY, f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 2  # the worst job's code
    rows = summary(sweep)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "sum to 1" in rows[1]["error"]


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_processes(project: Path) -> None:
    sweep = project / "sweep"
    result = assay(
        project,
        "run",
        "-m",
        "hydra/launcher=joblib",
        "seed=1,2,3",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr
    assert len(summary(sweep)) == 3
    assert "Joblib.Parallel" in result.stdout + result.stderr


SEARCH = (
    "hparams_search=optuna",
    "hydra.sweeper.params={model.lr: {type: float, low: 1e-4, "
    "high: 3e-2, log: true}, model.hidden: {type: int, low: 8, high: 64}}",
)


def optuna_trials(sweep: Path):
    import optuna

    return optuna.load_study(study_name="assay", storage=f"sqlite:///{sweep}/optuna.db").trials


@pytest.mark.slow
def test_optuna_search_is_seeded_resumable_and_writes_best_params(project: Path) -> None:
    first, again = project / "s1", project / "s2"
    for sweep, n in ((first, 2), (first, 4), (again, 2)):  # (first, 4) resumes `first`
        result = assay(
            project,
            "run",
            "-m",
            *SEARCH,
            f"hydra.sweeper.n_trials={n}",
            *TINY,
            f"hydra.sweep.dir={sweep}",
        )
        assert result.returncode == 0, result.stderr
    trials = optuna_trials(first)
    assert len(trials) == 4 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert [t.params for t in optuna_trials(again)] == [t.params for t in trials[:2]]  # seeded
    best = (first / "best_params.yaml").read_text()
    assert best.startswith("# @package _global_")
    (project / "conf" / "experiment" / "tuned.yaml").write_text(best)
    tuned = assay(project, "train", "experiment=tuned", "--cfg", "job")
    assert tuned.returncode == 0, tuned.stderr
    lr = yaml.safe_load(best)["model"]["lr"]
    assert f"lr: {lr}" in tuned.stdout


@pytest.mark.slow
def test_a_search_for_a_metric_no_trial_reports_stops_with_exit_2(project: Path) -> None:
    result = assay(
        project,
        "run",
        "-m",
        *SEARCH,
        "objective.metric=rmse",
        "objective.direction=minimize",
        "hydra.sweeper.n_trials=5",
        *TINY,
        f"hydra.sweep.dir={project / 's'}",
    )
    assert result.returncode == 2
    assert "objective.metric 'rmse' is not among the metrics a trial reports" in result.stderr
    assert len(optuna_trials(project / "s")) == 1  # stopped after the first trial


@pytest.mark.slow
def test_a_failing_trial_is_recorded_failed_and_the_search_goes_on(project: Path) -> None:
    sweep = project / "s"
    bad_space = "hydra.sweeper.params={model.lr: {type: float, low: 0.5, high: 3.0}}"
    result = assay(
        project,
        "run",
        "-m",
        "hparams_search=optuna",
        bad_space,
        "hydra.sweeper.n_trials=3",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    )
    states = [t.state.name for t in optuna_trials(sweep)]
    assert len(states) == 3 and "FAIL" in states  # lr > 1 fails validation; 3 trials ran
    assert result.returncode == 2
