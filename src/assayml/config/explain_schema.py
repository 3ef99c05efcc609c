"""Schema of the explain config group, bias metrics included.

Re-exported by ``assayml.config.schema``; see that module for how schemas are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _default_thresholds() -> dict[str, list[float]]:
    # Allowed ranges [low, high]; outside one, the metric is flagged. DI: the four-fifths
    # rule; differences in rates: at most 0.1 either way.
    bounds = {
        name: [-0.1, 0.1]
        for name in (
            "DPL",
            "DPPL",
            "RD",
            "SD",
            "AD",
            "DCAcc",
            "DCR",
            "DAR",
            "DRR",
            "CDDL",
            "CDDPL",
            "FT",
        )
    }
    return {**bounds, "DI": [0.8, 1.25]}


@dataclass
class BiasConfig:
    positive_label: Any = None  # the favourable outcome; null: the last class (1 for 0/1)
    group_by: str | None = None  # a column whose strata condition CDDL and CDDPL
    thresholds: dict[str, list[float]] = field(default_factory=_default_thresholds)
    # Rows whose sensitive value is missing: "group" (their own group, named "missing")
    # or "drop" (left out of that facet's metrics; their count is reported).
    missing: str = "group"

    def __post_init__(self) -> None:
        if self.missing not in ("group", "drop"):
            raise ValueError(f"bias.missing must be 'group' or 'drop', got {self.missing!r}")


@dataclass
class RobustnessConfig:
    """Prediction robustness (explain/robustness.py): every row of the split is perturbed
    ``repeats`` times with seeded noise within each feature's scale; a row flips when its
    predicted class changes (regression: its prediction moves more than ``tolerance``)."""

    enabled: bool = True
    noise: float = 0.05  # numeric: noise sd as a fraction of the column's training sd, > 0
    repeats: int = 20  # perturbed copies per row, >= 1
    # Categorical columns: the chance each value is swapped for another training category,
    # [0, 1); 0 leaves them as they are (a category has no "small" change).
    categorical_swap: float = 0.0
    tolerance: float = 0.1  # regression: a move above this many training target sds flips
    threshold: float = 0.1  # the model is flagged when more than this share of rows flip
    rows: int = 10  # the least robust rows listed, >= 0

    def __post_init__(self) -> None:
        if not self.noise > 0 or self.repeats < 1 or self.rows < 0:
            raise ValueError(
                "explain.robustness: noise must be > 0, repeats >= 1 and rows >= 0, got "
                f"{self.noise}, {self.repeats}, {self.rows}"
            )
        if not 0 <= self.categorical_swap < 1 or not 0 <= self.threshold <= 1:
            raise ValueError(
                "explain.robustness: categorical_swap must lie in [0, 1) and threshold in "
                f"[0, 1], got {self.categorical_swap}, {self.threshold}"
            )
        if not self.tolerance > 0:
            raise ValueError(f"explain.robustness.tolerance must be > 0, got {self.tolerance}")


@dataclass
class ExplainConfig:
    # integrated_gradients | kernel_shap | lime | saliency | deeplift | gradient_shap |
    # occlusion (images)
    methods: list[str] = field(default_factory=lambda: ["integrated_gradients", "kernel_shap"])
    rows: Any = "first:5"  # [indices] | first:k | most_uncertain:k | misclassified:k
    split: str = "test"  # the split rows are taken from
    target: Any = "predicted"  # the class explained: predicted, or a class label
    baseline: str = "mean"  # zeros | mean (training mean) | kmeans (a background set)
    background: int = 10  # k-means background rows (baseline=kmeans)
    samples: int = 200  # KernelSHAP / LIME perturbations per row, >= 10
    steps: int = 300  # Integrated Gradients steps, >= 2 (completeness error ~ 1 / steps)
    global_rows: int = 100  # rows behind mean |SHAP| and the dependence curves
    permutation_repeats: int = 10
    dependence_columns: int = 3  # PDP/ICE for the top columns by mean |SHAP|
    surrogate_depth: int = 3
    stability_noise: float = 0.05  # perturbation scale (standardised units)
    stability_threshold: float = 0.7  # mean Spearman below this flags a row as unstable
    counterfactual_rows: int = 3  # of the explained rows, the first k get a counterfactual
    immutable: list[str] | None = None  # never changed by counterfactuals; null: sensitive
    seed: int | None = None  # null: the run's seed
    # data: the figures' data only (JSON records for dvc plots; the report draws them as
    # SVG); png: PNG figures too (about 1.5 s more on the default config). Heat maps over
    # images are PNGs either way: the report cannot draw pixels from the JSON.
    figures: str = "data"
    bias: BiasConfig = field(default_factory=BiasConfig)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)

    def __post_init__(self) -> None:
        if self.figures not in ("png", "data"):
            raise ValueError(f"explain.figures must be png or data, not {self.figures}")
        unknown = set(self.methods) - {
            "integrated_gradients",
            "kernel_shap",
            "lime",
            "saliency",
            "deeplift",
            "gradient_shap",
            "occlusion",  # image inputs (a user's DataModule): patches masked in turn
        }
        if unknown:
            raise ValueError(f"unknown explain.methods {sorted(unknown)}")
        if self.baseline not in ("zeros", "mean", "kmeans"):
            raise ValueError(f"explain.baseline must be zeros, mean or kmeans, not {self.baseline}")
        if self.samples < 10 or self.steps < 2:
            raise ValueError("explain.samples must be >= 10 and explain.steps >= 2")
        selector = str(self.rows) if isinstance(self.rows, str) else None
        if selector is not None and selector.split(":")[0] not in (
            "first",
            "most_uncertain",
            "misclassified",
        ):
            raise ValueError(
                f"explain.rows: a list of indices, or first:k, most_uncertain:k "
                f"or misclassified:k, not {selector!r}"
            )
