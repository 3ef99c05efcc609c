"""The sweeper's config schema, registered as ``hydra/sweeper=assay_optuna``.

No ``from __future__ import annotations`` here: Hydra's plugin scan runs this module before
it is in ``sys.modules``, where ``dataclasses`` would look string annotations up."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from assayml.config.schema import SearchParam


@dataclass
class AssayOptunaSweeperConf:
    _target_: str = "hydra_plugins.assayml_optuna.sweeper.AssayOptunaSweeper"
    n_trials: int = 20  # finished trials wanted in the study, counting earlier runs
    n_jobs: int = 1  # trials launched at once (in parallel with hydra/launcher=joblib)
    seed: int = 42  # TPE sampler seed: the same seed proposes the same trials
    study_name: str = "assay"
    storage: str | None = None  # RDB URL; null: SQLite in the sweep folder (resumable)
    pruner: str = "median"  # median | none
    params: dict[str, SearchParam] = field(default_factory=dict)  # the search space
    extra: dict[str, Any] = field(default_factory=dict)  # reserved for sampler options


ConfigStore.instance().store(
    group="hydra/sweeper", name="assay_optuna", node=AssayOptunaSweeperConf, provider="assayml"
)
