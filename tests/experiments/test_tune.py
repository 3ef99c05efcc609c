"""Optuna glue: trial outcomes, interrupted trials, the best-params experiment."""

from __future__ import annotations

import optuna
import pytest
import yaml

from assayml.config.schema import SearchParam
from assayml.experiments import tune


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
