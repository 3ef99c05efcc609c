"""Post-processing with fairlearn's ``ThresholdOptimizer`` (Hardt, Price and Srebro, 2016):
fitted once on the validation split, stored as JSON, applied from that JSON.

Fit: our model's probability of class 1 is the score; a small estimator hands it to
fairlearn (``prefit=True``, ``predict_method="predict_proba"``). The fitted
``interpolated_thresholder_.interpolation_dict`` holds, per group, two threshold
operations (``>`` or ``<`` a threshold, possibly +-inf) and the probability of each
(``p0 + p1 = 1``), and for relaxed constraints ``p_ignore`` and a constant. We copy those
numbers into JSON; applying them is a few lines (:func:`positive_probability`), so loading a
model never unpickles fairlearn objects.

The draw: fairlearn draws ``rand()`` per call, so the same row could get two answers.
Here each row's uniform draw is a keyed hash (BLAKE2b, key: the run's seed) of the row's
model inputs (float32 bytes): the same request gets the same decision in evaluate,
``assay predict`` and ``assay serve``, and across processes. The decision rule is
fairlearn's own: favourable (class 1) when the positive probability >= the draw.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from assayml.errors import DataError
from assayml.mitigation.facet import read_groups

BLAKE_BYTES = 8  # 64-bit draws


def score_estimator():
    """A fitted classifier whose input is the score itself: ``X`` [rows, 1] holds the
    model's probability of class 1 (fairlearn calls only ``predict_proba``). Built here so
    that predicting with a mitigated model never imports scikit-learn."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class ScoreEstimator(ClassifierMixin, BaseEstimator):
        def fit(self, x, y):  # prefit: fairlearn does not call it
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, x) -> np.ndarray:
            score = np.asarray(x, dtype=np.float64)[:, 0]
            return np.column_stack([1.0 - score, score])

    return ScoreEstimator().fit(None, None)


def fit_threshold_optimizer(score, y, groups, constraint: str, objective: str, grid_size: int):
    """A fitted ``ThresholdOptimizer`` over ``score`` [rows] (probability of class 1),
    ``y`` [rows] (0/1) and ``groups`` [rows] (group names)."""
    from fairlearn.postprocessing import ThresholdOptimizer

    optimizer = ThresholdOptimizer(
        estimator=score_estimator(),
        constraints=constraint,
        objective=objective,
        grid_size=grid_size,
        prefit=True,
        predict_method="predict_proba",
    )
    optimizer.fit(
        np.asarray(score, np.float64)[:, None],
        np.asarray(y, np.int64),
        sensitive_features=np.asarray(groups, dtype=object),
    )
    return optimizer


def thresholds_state(optimizer) -> dict[str, dict[str, Any]]:
    """The fitted interpolation per group, as JSON-ready numbers (+-inf as text)."""
    state = {}
    for group, rule in optimizer.interpolated_thresholder_.interpolation_dict.items():
        entry = {
            "p0": float(rule.p0),
            "operation0": _operation(rule.operation0),
            "p1": float(rule.p1),
            "operation1": _operation(rule.operation1),
        }
        if "p_ignore" in rule:
            entry["p_ignore"] = float(rule.p_ignore)
            entry["prediction_constant"] = float(rule.prediction_constant)
        state[str(group)] = entry
    return state


def _operation(op) -> dict[str, Any]:
    threshold = float(op.threshold)
    text = threshold if math.isfinite(threshold) else ("inf" if threshold > 0 else "-inf")
    return {"operator": op.operator, "threshold": text}


def _threshold(value: Any) -> float:
    return float(value)  # float("inf") / float("-inf") read the stored text back


def _apply_operation(op: dict[str, Any], score: np.ndarray) -> np.ndarray:
    threshold = _threshold(op["threshold"])
    if op["operator"] == ">":
        return score > threshold
    if op["operator"] == "<":
        return score < threshold
    raise ValueError(f"unknown threshold operator {op['operator']!r}")


def positive_probability(rule: dict[str, Any], score: np.ndarray) -> np.ndarray:
    """P(decision = class 1) for rows of one group: fairlearn's ``_pmf_predict``."""
    mixed = rule["p0"] * _apply_operation(rule["operation0"], score) + rule[
        "p1"
    ] * _apply_operation(rule["operation1"], score)
    if "p_ignore" in rule:
        mixed = rule["p_ignore"] * rule["prediction_constant"] + (1 - rule["p_ignore"]) * mixed
    return mixed


def row_draws(x: np.ndarray, seed: int) -> np.ndarray:
    """One uniform draw in [0, 1) per row [rows]: a keyed hash of the row's float32 bytes."""
    key = int(seed).to_bytes(8, "little", signed=False)
    rows = np.ascontiguousarray(x, dtype=np.float32)
    draws = np.empty(len(rows), dtype=np.float64)
    for i, row in enumerate(rows):
        digest = hashlib.blake2b(row.tobytes(), digest_size=BLAKE_BYTES, key=key).digest()
        draws[i] = int.from_bytes(digest, "little") / 2.0**64
    return draws


def postprocess(state: dict[str, Any], score: np.ndarray, x: np.ndarray, threshold: float):
    """Decisions (class index 0/1, int64 [rows]) and whether the fitted thresholds applied
    ([rows] float: 1.0, or 0.0 where the row's group is unknown and the model's own
    decision at ``threshold`` stands, unless ``unknown_group`` is ``fail``).

    Raises:
        DataError: ``unknown_group: fail`` and a row whose group was not fitted.
    """
    groups = read_groups(state["encoding"], x, state.get("numeric_values"))
    probability = np.zeros(len(score), dtype=np.float64)
    known = np.zeros(len(score), dtype=bool)
    for name, rule in state["groups"].items():
        rows = groups == name
        probability[rows] = positive_probability(rule, score[rows])
        known |= rows
    if not known.all() and state.get("unknown_group") == "fail":
        row = int(np.flatnonzero(~known)[0])
        raise DataError(
            f"column '{state['encoding']['column']}': row {row} is in no group the bias "
            f"post-processing was fitted on (groups: {', '.join(state['groups'])}); "
            "mitigation.unknown_group=fail refuses it"
        )
    decided = (probability >= row_draws(x, state["seed"])).astype(np.int64)
    fallback = (score >= threshold).astype(np.int64)
    return np.where(known, decided, fallback), known.astype(np.float64)
