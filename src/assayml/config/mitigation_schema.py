"""Schema of the ``mitigation`` config group: bias mitigation, recorded.

- ``reweighing`` (pre-processing; Kamiran and Calders 2012): each training row's loss is
  weighted by w(g, y) = P(g) P(y) / P(g, y), estimated on the train split, so that group
  and label look independent to the fit. Our built-in module only.
- ``threshold_optimizer`` (post-processing; Hardt et al. 2016, fairlearn's
  ``ThresholdOptimizer``): per-group randomised thresholds on the model's probability of
  class 1, fitted on the validation split under ``constraint``; stored as JSON in the models
  folder and applied in evaluate, predict and serve (:mod:`assayml.mitigation.postprocess`).

Re-exported by ``assayml.config.schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MitigationMethod(Enum):
    none = "none"  # no mitigation; bias.json still reports the metrics
    reweighing = "reweighing"  # pre-processing: sample weights in the training loss
    threshold_optimizer = "threshold_optimizer"  # post-processing: per-group thresholds


class FairnessConstraint(Enum):
    demographic_parity = "demographic_parity"  # equal selection rates across groups
    equalized_odds = "equalized_odds"  # equal true- and false-positive rates


class UnknownGroup(Enum):
    # A row whose facet value the post-processing was not fitted on (an unseen category,
    # or a missing value the feature transform imputes to no fitted group):
    unmitigated = "unmitigated"  # the model's own decision at its threshold, flagged per row
    fail = "fail"  # refuse the rows (exit 2 / HTTP error naming the column and row)


@dataclass
class MitigationConfig:
    method: MitigationMethod = MitigationMethod.none
    facet: str | None = None  # the sensitive column mitigated; null: data.sensitive's first
    constraint: FairnessConstraint = FairnessConstraint.demographic_parity  # post-processing
    objective: str = "accuracy_score"  # ThresholdOptimizer's objective (fairlearn's names)
    grid_size: int = 1000  # ThresholdOptimizer's threshold grid, >= 2
    unknown_group: UnknownGroup = UnknownGroup.unmitigated  # see UnknownGroup

    def __post_init__(self) -> None:
        if self.grid_size < 2:
            raise ValueError(f"mitigation.grid_size must be at least 2, got {self.grid_size}")
        allowed = ("accuracy_score", "balanced_accuracy_score")
        if self.objective not in allowed:
            raise ValueError(
                f"mitigation.objective must be one of {', '.join(allowed)}, got {self.objective!r}"
            )
