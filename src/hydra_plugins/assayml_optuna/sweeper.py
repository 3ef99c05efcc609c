"""The sweeper: ask Optuna for trials, launch them as Hydra jobs, tell Optuna the results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf

from assayml.verbosity import say

log = logging.getLogger(__name__)


class AssayOptunaSweeper(Sweeper):
    def __init__(
        self,
        n_trials: int,
        n_jobs: int,
        seed: int,
        study_name: str,
        storage: str | None,
        pruner: str,
        params: Any,
        extra: Any = None,
    ) -> None:
        self.n_trials, self.n_jobs, self.seed = n_trials, n_jobs, seed
        self.study_name, self.storage, self.pruner = study_name, storage, pruner
        self.space = OmegaConf.to_container(params, resolve=True) if params is not None else {}
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context  # validate_batch_is_legal composes with it
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from assayml.experiments import tune
        from assayml.experiments.sweep_summary import report_sweep_problem

        if not self.space:
            raise ValueError("hydra.sweeper.params is empty: declare the search space")
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        metric, direction = self._objective()
        storage = self.storage or tune.storage_url(sweep_dir)
        study = tune.open_study(self.study_name, storage, direction, self.seed, self.pruner)
        if self.storage is None and (requeued := tune.requeue_interrupted(study)):
            log.info("resuming: %d interrupted trial(s) queued again", requeued)
        monitor = _pruning_monitor(direction, _regression(self.config))
        while (remaining := self.n_trials - tune.finished_trials(study)) > 0:
            trials = [study.ask() for _ in range(min(self.n_jobs, remaining))]
            batch = [self._overrides(arguments, trial, storage, monitor) for trial in trials]
            self.validate_batch_is_legal(batch)
            returns = self.launcher.launch(batch, initial_job_idx=trials[0].number)
            for trial, ret in zip(trials, returns, strict=True):
                outcome = ret.return_value if ret.status.name == "COMPLETED" else None
                state = tune.tell(study, trial, outcome, metric)
                log.info("trial %d: %s %s", trial.number, state, _value(outcome, metric))
                if problem := tune.objective_problem(outcome, metric):
                    report_sweep_problem(problem)  # every trial would fail alike: stop now
                    return study
        self._write_best(study, sweep_dir, arguments, metric)
        return study

    def _objective(self) -> tuple[str, str]:
        """(metric, direction) from ``objective``; ``auto`` needs a declared task."""
        from assayml.experiments.objective import resolve_objective

        objective = self.config.get("objective", {})
        metric = _name(objective.get("metric", "auto"))
        task = _name(self.config.get("data", {}).get("task", "auto"))
        if metric == "auto" and task == "auto":
            raise ValueError(
                "objective.metric is auto and data.task is auto: name the metric "
                "to optimise, e.g. objective.metric=accuracy or rmse"
            )
        known = {"rmse": 0} if task == "regression" else {}
        return resolve_objective(metric, _name(objective.get("direction", "auto")), known)

    def _overrides(self, arguments, trial, storage: str, monitor: str | None) -> list[str]:
        from assayml.experiments import tune

        sampled = tune.suggest(trial, self.space)
        # trial._trial_id: Optuna's Trial(study, trial_id) is how a job in another process
        # reaches the same trial to report intermediate values.
        return [
            *arguments,
            *(f"{k}={v}" for k, v in sampled.items()),
            f"tune.storage='{storage}'",
            f"tune.study={self.study_name}",
            f"tune.trial_id={trial._trial_id}",
            f"tune.pruner={self.pruner}",
            f"tune.prune_monitor={monitor if monitor and self.pruner != 'none' else 'null'}",
        ]

    def _write_best(self, study, sweep_dir: Path, arguments: list[str], metric: str) -> None:
        from assayml.experiments import tune
        from assayml.utils.io import atomic_outputs

        completed = [t for t in study.trials if t.value is not None]
        if not completed:
            log.warning("no trial completed; no best parameters to write")
            return
        with atomic_outputs() as out:
            out.write_text(
                sweep_dir / tune.BEST_PARAMS_FILE, tune.best_params_yaml(study, arguments, metric)
            )
        best = study.best_trial
        say(
            f"best trial {best.number}: {metric} = {best.value:.6g} with {best.params}\n"
            f"experiment-ready: {sweep_dir / tune.BEST_PARAMS_FILE}"
        )


def _name(value: Any) -> str:
    return str(getattr(value, "name", value))


def _regression(config: DictConfig) -> bool:
    return _name(config.get("data", {}).get("task", "")) == "regression"


def _pruning_monitor(direction: str, regression: bool) -> str | None:
    """A validation metric that moves with the objective, which the pruner compares across
    trials each epoch; None (no pruning) when none does."""
    if direction == "minimize":
        return "val/loss"
    return None if regression else "val/acc"


def _value(outcome: dict | None, metric: str) -> str:
    value = (outcome or {}).get("metrics", {}).get(metric)
    return f"{metric}={value:.6g}" if isinstance(value, (int, float)) else ""
