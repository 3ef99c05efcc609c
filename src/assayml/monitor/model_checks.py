"""Checks that need the model: prediction drift and attribution drift (NDCG of the
attribution rankings); model quality is in ``ground_truth.py``, bias drift in
``bias_drift.py``."""

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
