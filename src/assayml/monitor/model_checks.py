"""Checks that need the model or labels: prediction drift, model quality (with its spread
over bootstrap resamples) and attribution drift (NDCG of the attribution rankings); bias
drift is in ``bias_drift.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assayml.monitor.checks import Violation
from assayml.monitor.drift import (
    NumericReference,
    categorical_drift,
    control_false_alarms,
    default_rule,
    numeric_drift,
)
from assayml.utils import groups as typed

LOWER_IS_BETTER = ("mae", "rmse")


def prediction_drift(
    statistics: dict[str, Any],
    predicted: np.ndarray,
    reference: NumericReference | None,
    cfg,
    classes: list[Any] | None = None,
) -> tuple[dict, list[Violation]]:
    """``predicted``: regression values, or class indices into ``classes``; the baseline's
    class counts are keyed by the labels' typed names (see utils/groups.py)."""
    base = statistics["prediction"]
    regression = base["task"] == "regression"
    rule = default_rule(regression, cfg)
    if regression:
        result = numeric_drift(reference, predicted.astype(np.float32), rule)
    else:
        labels = np.asarray(classes, dtype=object)[np.asarray(predicted, dtype=np.int64)]
        current = pd.Series(typed.group_names(labels)).value_counts().to_dict()
        result = categorical_drift(base["distribution"]["counts"], current, rule)
    control_false_alarms([result], cfg.alpha, "none")  # one test: alpha as it stands
    drifted = result.drifted
    report = {
        "test": result.test,
        "statistic": result.statistic,
        "p_value": result.p_value,
        "threshold": result.threshold,
        "drifted": bool(drifted),
    }
    found = (
        [
            Violation(
                "prediction",
                "prediction_drift_check",
                f"{result.test} drift",
                result.statistic if result.p_value is None else result.p_value,
                result.threshold,
            )
        ]
        if drifted
        else []
    )
    return report, found


def model_quality(statistics: dict[str, Any], metric_fn, rows: int, cfg, seed: int):
    """The current primary metric, its spread over bootstrap resamples, and a violation
    when it falls short of the baseline by more than ``quality_tolerance``."""
    task = statistics["prediction"]["task"]
    primary = "rmse" if task == "regression" else "accuracy"
    rng = np.random.default_rng(seed)
    value = metric_fn(np.arange(rows))
    draws = [metric_fn(rng.integers(0, rows, rows)) for _ in range(cfg.bootstrap)]
    low, high = np.percentile(draws, [2.5, 97.5])
    baseline = statistics["model_quality"][primary]
    # Worse by more than the tolerance, and the whole 95 % interval on the worse side of
    # the baseline: a small labelled sample alone raises no alarm.
    if primary in LOWER_IS_BETTER:
        worse = value > baseline * (1 + cfg.quality_tolerance) and low > baseline
    else:
        worse = value < baseline - cfg.quality_tolerance and high < baseline
    report = {
        "metric": primary,
        "baseline": baseline,
        "current": round(value, 6),
        "spread": {
            "std": round(float(np.std(draws)), 6),
            "ci95": [round(float(low), 6), round(float(high), 6)],
        },
        "rows": rows,
    }
    found = (
        [
            Violation(
                "model",
                "model_quality_check",
                f"{primary} {value:.4f} against baseline {baseline:.4f}",
                value,
                baseline,
            )
        ]
        if worse
        else []
    )
    return report, found


def ndcg(baseline: list[dict[str, Any]], current: list[str]) -> float:
    """NDCG of the current ranking of columns, with the baseline's mean |SHAP| as relevance."""
    relevance = {r["column"]: r["mean_abs_shap"] for r in baseline}
    gains = [relevance.get(c, 0.0) for c in current]
    ideal = sorted(relevance.values(), reverse=True)[: len(gains)]
    discounts = 1 / np.log2(np.arange(2, len(gains) + 2))
    best = float(np.dot(ideal, discounts[: len(ideal)]))
    return float(np.dot(gains, discounts)) / best if best else 1.0


def attribution_drift(baseline: list[dict], current: list[dict], cfg):
    score = ndcg(baseline, [r["column"] for r in current])
    report = {
        "ndcg": round(score, 6),
        "threshold": cfg.attribution_ndcg,
        "baseline_top": [r["column"] for r in baseline[:5]],
        "current_top": [r["column"] for r in current[:5]],
    }
    found = (
        [
            Violation(
                "attributions",
                "feature_attribution_drift_check",
                "the ranking of attributions moved",
                score,
                cfg.attribution_ndcg,
            )
        ]
        if score < cfg.attribution_ndcg
        else []
    )
    return report, found


def recommendation(violations: list[Violation]) -> dict[str, Any]:
    """Retrain when the model or its inputs moved; investigate when only data quality did."""
    kinds = {v.constraint_check_type for v in violations}
    model_moved = kinds & {
        "model_quality_check",
        "prediction_drift_check",
        "feature_attribution_drift_check",
        "bias_drift_check",
    }
    data_moved = "baseline_drift_check" in kinds
    quality = kinds - model_moved - {"baseline_drift_check"}
    if model_moved or data_moved:
        action = "retrain"
        reason = (
            "the model's behaviour changed"
            if model_moved
            else "the input distribution moved away from the training data"
        )
    elif quality:
        action, reason = "investigate", "data-quality violations: check the data pipeline first"
    else:
        action, reason = "none", "no violation"
    return {"action": action, "reason": reason, "violations_by_check": sorted(kinds)}
