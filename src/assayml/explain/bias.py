"""Bias metrics on a facet (a sensitive column): the reference group ``a`` against each other
group ``d``, with the definitions of the Amazon SageMaker Clarify documentation (public
formulas; we do not use its library). The favourable outcome is ``positive`` (label 1 by
default); ``q`` is the share of favourable outcomes.

Pre-training, on the labels: CI, DPL, KL, JS, LP (L2), TVD, KS, CDDL.
Post-training, on the predictions: DPPL, DI, DCAcc, DCR, RD, SD, AD, TE, DAR, DRR, CDDPL,
GE (generalized entropy, alpha = 2, over all rows) and FT (counterfactual flip test); and,
our addition, DPPS: DPPL on the predicted probabilities instead of labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

EPS = 1e-12


def pre_training(
    y: np.ndarray, facet: np.ndarray, a: Any, d: Any, strata: np.ndarray | None = None
) -> dict[str, float]:
    """Label imbalance between groups ``a`` and ``d``; ``y`` is 1 for the favourable outcome."""
    in_a, in_d = facet == a, facet == d
    n_a, n_d = in_a.sum(), in_d.sum()
    p_a = np.array([1 - y[in_a].mean(), y[in_a].mean()])  # outcome distributions [0, 1]
    p_d = np.array([1 - y[in_d].mean(), y[in_d].mean()])
    mid = (p_a + p_d) / 2
    return {
        "CI": (n_a - n_d) / (n_a + n_d),
        "DPL": p_a[1] - p_d[1],
        "KL": _kl(p_a, p_d),
        "JS": 0.5 * (_kl(p_a, mid) + _kl(p_d, mid)),
        "LP": float(np.sqrt(np.sum((p_a - p_d) ** 2))),
        "TVD": 0.5 * float(np.sum(np.abs(p_a - p_d))),
        "KS": float(np.max(np.abs(p_a - p_d))),
        "CDDL": conditional_disparity(y, in_d, in_a | in_d, strata),
    }


def post_training(
    y: np.ndarray,
    y_hat: np.ndarray,
    facet: np.ndarray,
    a: Any,
    d: Any,
    strata: np.ndarray | None = None,
    score: np.ndarray | None = None,
) -> dict[str, float]:
    """Prediction disparities between ``a`` and ``d``; ``y``, ``y_hat`` are 1 = favourable;
    ``score`` (optional) the predicted probability of the favourable outcome."""
    ca, cd = _counts(y[facet == a], y_hat[facet == a]), _counts(y[facet == d], y_hat[facet == d])
    scores = {}
    if score is not None:
        # Ours, beside Clarify's: DPPL on probabilities rather than thresholded labels. A
        # decision threshold amplifies a gap in scores (DPPL can far exceed DPL); DPPS
        # shows the gap the model itself carries.
        scores["DPPS"] = _mean(score[facet == a]) - _mean(score[facet == d])
    return scores | {
        "DPPL": ca["q_hat"] - cd["q_hat"],
        "DI": cd["q_hat"] / max(ca["q_hat"], EPS),
        "DCAcc": _ratio(ca["n1"], ca["pred1"]) - _ratio(cd["n1"], cd["pred1"]),
        "DCR": _ratio(cd["n0"], cd["pred0"]) - _ratio(ca["n0"], ca["pred0"]),
        "RD": _ratio(ca["tp"], ca["n1"]) - _ratio(cd["tp"], cd["n1"]),
        "SD": _ratio(cd["tn"], cd["n0"]) - _ratio(ca["tn"], ca["n0"]),
        "AD": ca["acc"] - cd["acc"],
        "TE": _ratio(cd["fn"], cd["fp"]) - _ratio(ca["fn"], ca["fp"]),
        "DAR": _ratio(ca["tp"], ca["pred1"]) - _ratio(cd["tp"], cd["pred1"]),
        "DRR": _ratio(cd["tn"], cd["pred0"]) - _ratio(ca["tn"], ca["pred0"]),
        "CDDPL": conditional_disparity(y_hat, facet == d, (facet == a) | (facet == d), strata),
    }


def generalized_entropy(y: np.ndarray, y_hat: np.ndarray, alpha: float = 2.0) -> float:
    """Inequality of benefits b = y_hat - y + 1 across all rows (0: everyone alike)."""
    benefit = y_hat.astype(float) - y.astype(float) + 1.0
    mean = benefit.mean()
    if mean <= 0:
        return 0.0
    return float(np.mean((benefit / mean) ** alpha - 1) / (alpha * (alpha - 1)))


def flip_test(
    predict_favourable: Callable[[Any], np.ndarray], rows: Any, facet_column: str, a: Any
) -> float:
    """FT: the share of group-d rows whose prediction turns favourable when only their
    sensitive value is set to ``a``, minus the share that turns unfavourable.

    ``rows`` holds the group's raw rows; ``predict_favourable`` maps raw rows to 0/1.
    (Clarify's FT finds counterfactuals among nearest neighbours; we change the attribute
    itself, which asks the model the question directly.)
    """
    if len(rows) == 0:
        return 0.0
    before = predict_favourable(rows)
    flipped = rows.copy()
    flipped[facet_column] = a
    after = predict_favourable(flipped)
    return float(((after > before).sum() - (after < before).sum()) / len(rows))


def conditional_disparity(
    outcome: np.ndarray, in_d: np.ndarray, in_pair: np.ndarray, strata: np.ndarray | None
) -> float:
    """CDD: demographic disparity (d's share of the unfavourable outcomes minus its share of
    the favourable ones) averaged over strata, weighted by their size."""
    groups = np.zeros(len(outcome)) if strata is None else strata
    total, weight = 0.0, 0
    for group in np.unique(groups[in_pair]):
        rows = in_pair & (groups == group)
        rejected, accepted = rows & (outcome == 0), rows & (outcome == 1)
        share_rejected = _ratio((rejected & in_d).sum(), rejected.sum())
        share_accepted = _ratio((accepted & in_d).sum(), accepted.sum())
        total += rows.sum() * (share_rejected - share_accepted)
        weight += rows.sum()
    return float(total / weight) if weight else 0.0


def _counts(y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    tp = int(np.sum((y == 1) & (y_hat == 1)))
    tn = int(np.sum((y == 0) & (y_hat == 0)))
    fp = int(np.sum((y == 0) & (y_hat == 1)))
    fn = int(np.sum((y == 1) & (y_hat == 0)))
    n = max(len(y), 1)
    return {
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "n1": tp + fn,
        "n0": tn + fp,
        "pred1": tp + fp,
        "pred0": tn + fn,
        "q_hat": (tp + fp) / n,
        "acc": (tp + tn) / n,
    }


def _mean(values: np.ndarray) -> float:
    """The mean, NaN (undefined, without a warning) for no values."""
    return float(values.mean()) if values.size else float("nan")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.clip(p, EPS, 1), np.clip(q, EPS, 1)
    return float(np.sum(p * np.log(p / q)))
