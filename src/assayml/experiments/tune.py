"""Hyperparameter search with Optuna (5.x): search space, study, trial outcomes, best params.

The Hydra sweeper in ``hydra_plugins.assayml_optuna`` drives it: it asks the study for
trials, launches each as a Hydra job with the sampled overrides, and tells the study what the
job reported. Jobs reach their trial through ``tune.*`` keys to report intermediate values
(pruning). Optuna is imported only when a search runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from assayml.config.schema import SearchParam, TuneConfig

BEST_PARAMS_FILE = "best_params.yaml"
STORAGE_FILE = "optuna.db"


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """Sample one value per search parameter from ``trial``."""
    values = {}
    for name, spec in space.items():
        spec = spec if isinstance(spec, SearchParam) else SearchParam(**dict(spec))
        if spec.type == "categorical":
            values[name] = trial.suggest_categorical(name, list(spec.choices))
        elif spec.type == "int":
            step = int(spec.step) if spec.step else 1
            values[name] = trial.suggest_int(
                name, int(spec.low), int(spec.high), step=step, log=spec.log
            )
        else:
            values[name] = trial.suggest_float(
                name, spec.low, spec.high, step=spec.step, log=spec.log
            )
    return values


def open_study(name: str, storage: str, direction: str, seed: int, pruner: str):
    """Create or load the study (resumable: same name, same storage).

    A new study's sampler is seeded with ``seed``; a resumed one with a seed derived from
    ``seed`` and the number of trials the study already holds (``sampler_seed``), so the
    resumed search proposes new points instead of restarting the seeded sequence at trial
    0's parameters, and the same study resumed twice proposes the same points.
    """
    import optuna

    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=build_pruner(pruner),
        load_if_exists=True,
    )
    if told := len(study.get_trials(deepcopy=False)):
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(seed, told))
    return study


def sampler_seed(seed: int, told: int) -> int:
    """The sampler seed for a study that already holds ``told`` trials: ``seed`` itself for
    a new study, else a stable 32-bit mix of both (not ``seed + told``, which would give a
    resumed search the sequence of a fresh search with a neighbouring seed)."""
    if told == 0:
        return seed
    digest = hashlib.sha256(f"assayml-resume:{seed}:{told}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def build_pruner(name: str):
    """The pruner, built alike by the sweeper and by each trial's job (which decides)."""
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    # Let three trials finish and every trial run two epochs before comparing medians.
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)


INTERRUPTED = "assay_interrupted"  # study attribute: numbers of trials an interruption left


def requeue_interrupted(study) -> int:
    """Trials left RUNNING by an interrupted search: marked failed, their params queued
    again so the search resumes where it stopped. Returns how many.

    Only for a study no other process is running (the sweep folder's own SQLite file): in
    a shared database a RUNNING trial may be another worker's live one.
    """
    from optuna.trial import TrialState

    stale = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    for trial in stale:
        # Optuna has no public call to fail another process's trial; this is what
        # study.tell does for a trial of this process.
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
    if stale:
        earlier = study.user_attrs.get(INTERRUPTED, [])
        study.set_user_attr(INTERRUPTED, [*earlier, *(t.number for t in stale)])
    return len(stale)


def finished_trials(study) -> int:
    """Trials that ran to an end, not counting those an interruption cut short (they run
    again, so the search still gets ``n_trials`` results)."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    cut = set(study.user_attrs.get(INTERRUPTED, []))
    return sum(t.state in done and t.number not in cut for t in study.get_trials(deepcopy=False))


def tell(study, trial, outcome: dict[str, Any] | None, metric: str) -> str:
    """Record a job's outcome: its objective value, pruned, or failed. Returns the state."""
    from optuna.trial import TrialState

    if outcome and outcome.get("pruned"):
        study.tell(trial, state=TrialState.PRUNED)
        return "pruned"
    value = (outcome or {}).get("metrics", {}).get(metric)
    if outcome and outcome.get("code") == 0 and isinstance(value, (int, float)):
        study.tell(trial, float(value))
        return "complete"
    study.tell(trial, state=TrialState.FAIL)
    return "failed"


def objective_problem(outcome: dict[str, Any] | None, metric: str) -> str | None:
    """Why the search cannot go on, if a trial ran to the end without the objective among
    its metrics (a misspelt or task-inapplicable metric fails every trial alike)."""
    if not outcome or outcome.get("code") != 0 or outcome.get("pruned"):
        return None
    metrics = outcome.get("metrics", {})
    if metric in metrics:
        return None
    shown = ", ".join(sorted(metrics)) or "none"
    return (
        f"objective.metric '{metric}' is not among the metrics a trial reports ({shown}); "
        "set objective.metric to one of them"
    )


def best_params_yaml(study, base_overrides: list[str], metric: str) -> str:
    """The best trial as a config experiment: `# @package _global_`, group choices as
    defaults overrides, every other key as a value."""
    best = study.best_trial
    defaults, values = [], {}
    for override in [*base_overrides, *(f"{k}={v}" for k, v in best.params.items())]:
        key, _, raw = override.partition("=")
        if key == "hparams_search":  # the search itself is not part of the result
            continue
        if "." not in key and not key.startswith(("+", "~", "hydra")):
            defaults.append({f"override /{key}": raw})
        elif not key.startswith(("hydra", "tune.", "+", "~")):
            _set(values, key.split("."), yaml.safe_load(raw) if isinstance(raw, str) else raw)
    doc = ({"defaults": defaults} if defaults else {}) | values
    header = (
        f"# @package _global_\n# Best of {len(study.trials)} trials of study "
        f"'{study.study_name}': {metric} = {best.value:.6g} (trial {best.number}).\n"
        "# Copy to conf/experiment/<name>.yaml and run `assay run experiment=<name>`.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False)


def _set(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def pruning_callbacks(cfg: TuneConfig) -> list:
    """For a search trial's job: the Lightning callback that reports ``prune_monitor`` each
    epoch and stops the trial when the pruner says so. Empty outside a search."""
    if cfg.trial_id is None or not cfg.prune_monitor:
        return []
    from optuna_integration import PyTorchLightningPruningCallback

    return [PyTorchLightningPruningCallback(trial_for_job(cfg), cfg.prune_monitor)]


def trial_for_job(cfg: TuneConfig):
    """The running trial a search job belongs to (for pruning), or None outside a search."""
    if cfg.trial_id is None:
        return None
    import optuna

    study = optuna.load_study(
        study_name=cfg.study, storage=cfg.storage, pruner=build_pruner(cfg.pruner)
    )
    return optuna.trial.Trial(study, cfg.trial_id)


def storage_url(sweep_dir: str | Path) -> str:
    return f"sqlite:///{(Path(sweep_dir) / STORAGE_FILE).resolve()}"
