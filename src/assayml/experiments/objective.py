"""The objective that ranks sweep jobs and that a hyperparameter search optimises."""

from __future__ import annotations

from typing import Any

MAXIMISE = ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "auroc", "r2")
MINIMISE = ("loss", "mae", "rmse", "nll", "ece", "brier")


def resolve_objective(metric: str, direction: str, metrics: dict[str, Any]) -> tuple[str, str]:
    """(metric, "maximize" | "minimize"), resolving ``auto`` from the metrics a job wrote."""
    if metric == "auto":
        metric = "rmse" if "rmse" in metrics else "accuracy"
    if direction == "auto":
        base = metric.split(".")[-1].removesuffix("_mean")
        if base.endswith(MINIMISE) or base.startswith("val/loss"):
            direction = "minimize"
        elif base.endswith(MAXIMISE):
            direction = "maximize"
        else:
            raise ValueError(f"objective.direction: say maximize or minimize for '{metric}'")
    return metric, direction
