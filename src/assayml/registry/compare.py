"""Champion against challenger on one shared holdout.

Both versions predict the same rows through their own saved feature transforms. Each metric
gets the challenger-minus-champion difference with a 95 % paired bootstrap interval (rows
resampled together), and a paired test: McNemar's exact test on the rows exactly one of
them gets right (classification), or the Wilcoxon signed-rank test on absolute errors
(regression). The challenger is called significantly better when the test's p < alpha, its
primary metric is better, and that metric's interval excludes zero.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.evaluate.metrics import compute_metrics
from assayml.features.transform import FeatureTransform
from assayml.models.artifact import load_model
from assayml.models.inference import Predictions, Sampling, predict
from assayml.models.trust import BuilderTrust
from assayml.registry.store import Registry

BOOTSTRAP = 1000
ALPHA = 0.05
LOWER_IS_BETTER = ("mae", "rmse")


def compare_versions(
    registry: Registry,
    champion: dict,
    challenger: dict,
    holdout: pd.DataFrame,
    seed: int = 0,
    trust: BuilderTrust | None = None,
) -> dict[str, Any]:
    """Both versions on ``holdout`` (raw rows with the target column); ``trust`` says which
    builders their models may name (default: the project's)."""
    preds, ys = [], []
    for doc in (champion, challenger):
        pred, y = _predict(registry, doc, holdout, trust)
        preds.append(pred)
        ys.append(y)
    task = preds[0].task
    primary = "rmse" if task == "regression" else "accuracy"
    names = ["mae", "rmse", "r2"] if task == "regression" else ["accuracy", "f1", "auroc"]
    metrics = {
        label: {k: compute_metrics(p, y).get(k) for k in names}
        for label, p, y in zip(("champion", "challenger"), preds, ys, strict=True)
    }
    differences = bootstrap_differences(preds, ys[0], names, seed)
    test = paired_test(preds, ys[0])
    better = (
        (differences[primary]["difference"] < 0)
        if primary in LOWER_IS_BETTER
        else (differences[primary]["difference"] > 0)
    )
    low, high = differences[primary]["ci95"]
    significant = bool(better and test["p_value"] < ALPHA and (low > 0 or high < 0))
    return {
        "champion": f"{champion['name']}@{champion['version']}",
        "challenger": f"{challenger['name']}@{challenger['version']}",
        "rows": len(holdout),
        "metrics": metrics,
        "differences": differences,
        "test": test,
        "primary_metric": primary,
        "challenger_significantly_better": significant,
    }


def bootstrap_differences(
    preds: list[Predictions], y: np.ndarray, names: list[str], seed: int
) -> dict[str, dict[str, Any]]:
    """challenger - champion for each metric, with a paired bootstrap 95 % interval."""
    rng = np.random.default_rng(seed)
    n = len(y)
    observed = {k: _metric(preds[1], y, k) - _metric(preds[0], y, k) for k in names}
    draws = {k: [] for k in names}
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, n, n)
        subset = [_subset(p, rows) for p in preds]
        for k in names:
            a, b = _metric(subset[0], y[rows], k), _metric(subset[1], y[rows], k)
            if a is not None and b is not None:
                draws[k].append(b - a)
    return {
        k: {
            "difference": _round(observed[k]),
            "ci95": [_round(np.percentile(draws[k], 2.5)), _round(np.percentile(draws[k], 97.5))],
        }
        for k in names
        if draws[k] and observed[k] is not None
    }


def paired_test(preds: list[Predictions], y: np.ndarray) -> dict[str, Any]:
    from scipy.stats import binomtest, wilcoxon

    if preds[0].task == "regression":
        errors = [np.abs(p.predicted - y) for p in preds]
        if np.allclose(errors[0], errors[1]):
            return {"name": "wilcoxon", "p_value": 1.0}
        result = wilcoxon(errors[1], errors[0])
        return {
            "name": "wilcoxon signed-rank (absolute errors)",
            "statistic": float(result.statistic),
            "p_value": float(result.pvalue),
        }
    right = [p.predicted == y for p in preds]
    only_champion = int(np.sum(right[0] & ~right[1]))
    only_challenger = int(np.sum(~right[0] & right[1]))
    discordant = only_champion + only_challenger
    p_value = (
        binomtest(min(only_champion, only_challenger), discordant, 0.5).pvalue
        if discordant
        else 1.0
    )
    return {
        "name": "McNemar exact",
        "only_champion_right": only_champion,
        "only_challenger_right": only_challenger,
        "p_value": float(p_value),
    }


def _predict(registry: Registry, doc: dict, holdout: pd.DataFrame, trust):
    with tempfile.TemporaryDirectory(prefix="assay-compare-") as tmp:
        registry.materialize(doc, tmp)
        module, spec = load_model(Path(tmp) / "model", trust)
        transform = FeatureTransform.load(Path(tmp) / "model" / "feature_transform.json")
    target = holdout[transform.target.name]
    y = (
        target.to_numpy(dtype=float)
        if transform.target.task == "regression"
        else transform.encode_target(target)
    )
    pred = predict(
        module, transform, transform.transform(holdout), sampling=Sampling.from_extras(spec.extras)
    )
    return pred, y


def _metric(pred: Predictions, y: np.ndarray, name: str) -> float | None:
    if name == "accuracy":
        return float(np.mean(pred.predicted == y))
    if name in ("mae", "rmse", "r2") and pred.task == "regression":
        error = pred.predicted - y
        if name == "mae":
            return float(np.mean(np.abs(error)))
        if name == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        total = np.sum((y - y.mean()) ** 2)
        return float(1 - np.sum(error**2) / total) if total else None
    return compute_metrics(pred, y).get(name)


def _subset(pred: Predictions, rows: np.ndarray) -> Predictions:
    probabilities = None if pred.probabilities is None else pred.probabilities[rows]
    return Predictions(pred.task, pred.predicted[rows], probabilities, pred.outputs[:, rows])


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)
