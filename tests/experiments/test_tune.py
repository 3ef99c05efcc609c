"""Optuna glue: trial outcomes, interrupted trials, resumed searches, the best-params
experiment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from assayml.config.schema import SearchParam
from assayml.experiments import tune
from tests import cli_fork
from tests.conftest import REPO, TINY, cli_env


@pytest.fixture
def study(tmp_path):
    return tune.open_study("s", tune.storage_url(tmp_path), "maximize", seed=0, pruner="median")


def test_outcomes_become_trial_states(study) -> None:
    states = [
        tune.tell(study, study.ask(), {"code": 0, "metrics": {"auroc": 0.9}}, "auroc"),
        tune.tell(study, study.ask(), {"code": 2, "metrics": {}}, "auroc"),
        tune.tell(study, study.ask(), {"code": 0, "pruned": True}, "auroc"),
        tune.tell(study, study.ask(), None, "auroc"),  # the job itself crashed
    ]
    assert states == ["complete", "failed", "pruned", "failed"]
    assert tune.finished_trials(study) == 4


def test_interrupted_trials_are_failed_and_queued_again(study) -> None:
    trial = study.ask()
    tune.suggest(trial, {"model.lr": SearchParam(low=1e-3, high=1e-1, log=True)})
    assert tune.requeue_interrupted(study) == 1
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert tune.finished_trials(study) == 0  # the cut-short trial will run again
    retried = study.ask()
    assert (
        tune.suggest(
            retried, {"model.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
        )
        == trial.params
    )


def test_best_params_are_an_experiment(study) -> None:
    trial = study.ask()
    tune.suggest(
        trial,
        {
            "model.hidden": SearchParam(type="int", low=8, high=64),
            "model.activation": SearchParam(type="categorical", choices=["relu", "gelu"]),
        },
    )
    study.tell(trial, 0.9)
    doc = tune.best_params_yaml(
        study, ["model=mlp", "hparams_search=optuna", "trainer.max_epochs=3"], "auroc"
    )
    parsed = yaml.safe_load(doc)
    assert doc.startswith("# @package _global_")
    assert parsed["defaults"] == [{"override /model": "mlp"}]
    assert parsed["trainer"]["max_epochs"] == 3
    assert parsed["model"]["hidden"] == trial.params["model.hidden"]


def test_search_param_checks() -> None:
    with pytest.raises(ValueError, match="choices"):
        SearchParam(type="categorical")
    with pytest.raises(ValueError, match="low and high"):
        SearchParam(type="int")


def search(sweep: Path, n_trials: int, seed: int = 42) -> list[dict]:
    """What the sweeper does, with the shipped search space and a cheap objective: open
    (or resume) the study in ``sweep``, ask and tell until ``n_trials`` have finished."""
    space = yaml.safe_load((REPO / "conf" / "hparams_search" / "optuna.yaml").read_text())
    space = space["hydra"]["sweeper"]["params"]
    study = tune.open_study("assay", tune.storage_url(sweep), "maximize", seed, "median")
    while tune.finished_trials(study) < n_trials:
        trial = study.ask()
        values = tune.suggest(trial, space)
        tune.tell(study, trial, {"code": 0, "metrics": {"auroc": values["model.dropout"]}}, "auroc")
    return [t.params for t in study.trials]


def test_a_resumed_search_proposes_new_points_and_the_same_ones_each_time(tmp_path) -> None:
    first, copy = tmp_path / "s", tmp_path / "copy"
    first.mkdir()
    earlier = search(first, 3)
    shutil.copytree(first, copy)
    resumed = search(first, 12)  # past TPE's 10 random start-up trials
    assert resumed[:3] == earlier
    assert not [p for p in resumed[3:] if p in earlier]  # the seeded sequence did not restart
    assert len({tuple(sorted(p.items())) for p in resumed}) == 12
    assert search(copy, 12) == resumed  # same seed, same history: same proposals
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert search(fresh, 3) == earlier  # a new study still follows its seed


def test_the_resume_seed_depends_on_seed_and_history() -> None:
    assert tune.sampler_seed(42, 0) == 42
    seeds = {tune.sampler_seed(s, n) for s in (41, 42, 43) for n in (1, 2, 3)}
    assert len(seeds) == 9 and all(0 <= s < 2**32 for s in seeds)


SEARCH = (sys.executable, "-m", "assayml.cli.main", "-q", "run", "-m", "hparams_search=optuna")


@pytest.mark.slow
def test_a_search_resumed_through_the_cli_repeats_no_finished_trial(project) -> None:
    def run_search(sweep: Path, n_trials: int) -> list[dict]:
        done = cli_fork.run(
            [*SEARCH, f"hydra.sweeper.n_trials={n_trials}", *TINY, f"hydra.sweep.dir={sweep}"],
            cwd=project,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        storage = tune.storage_url(sweep)
        return [t.params for t in optuna.load_study(study_name="assay", storage=storage).trials]

    first, copy = project / "s", project / "copy"
    earlier = run_search(first, 2)
    shutil.copytree(first, copy)
    resumed = run_search(first, 3)
    assert resumed[:2] == earlier and resumed[2] not in earlier
    assert run_search(copy, 3) == resumed
