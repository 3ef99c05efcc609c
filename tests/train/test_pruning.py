"""A search trial that falls behind the median is pruned mid-training, through Lightning."""

from __future__ import annotations

import optuna

from assayml.cli.jobs import run_stages_safely
from assayml.experiments import tune
from tests.stages.helpers import run_stages


def test_a_lagging_trial_is_pruned_and_reported_as_pruned(make_cfg, tmp_path) -> None:
    storage = tune.storage_url(tmp_path)
    study = tune.open_study("s", storage, "maximize", seed=0, pruner="median")
    for _ in range(3):  # three finished trials that were perfect at every epoch
        study.add_trial(
            optuna.trial.create_trial(value=1.0, intermediate_values=dict.fromkeys(range(20), 1.0))
        )
    trial = study.ask()
    overrides = (
        f"tune.storage='{storage}'",
        "tune.study=s",
        f"tune.trial_id={trial._trial_id}",
        "tune.prune_monitor=val/acc",
        "trainer.max_epochs=10",
        "model.lr=0.0001",
    )
    run_stages(make_cfg(*overrides), ("prepare", "features"))
    outcome = run_stages_safely("train", make_cfg(*overrides))
    assert outcome["pruned"] and "pruned at epoch 2" in outcome["error"]
    reported = study.trials[-1].intermediate_values
    assert sorted(reported) == [0, 1, 2]  # stopped after the warm-up epochs
