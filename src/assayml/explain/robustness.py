"""Prediction robustness: do small changes in the input change the output?

Every row of the explained split is copied ``repeats`` times and each copy perturbed with
seeded noise within each feature's scale; a copy *flips* when its predicted class differs
from the row's own prediction (regression: when its prediction moves more than
``tolerance`` training target standard deviations). Reported per row (its share of flipped
copies), overall, and the least robust rows; the model is flagged when more than
``threshold`` of the rows flip at least once. Like the bias thresholds, a flag is reported
(``robustness.json``, ``explain.json``, the report), not an error.

The perturbation, drawn from ``numpy.random.default_rng(seed)`` copy by copy (r = 0, 1,
...), each copy's draws in this order:

1. numeric columns: ``eps = rng.standard_normal((rows, numeric))``, and row i of copy r
   gets ``x + noise * sd * eps[i]``, sd being the column's training standard deviation
   (population, missing values left out). A missing value stays missing (the transform
   imputes it as before); a ``features.numeric.log`` column is clipped at 0.
2. categorical columns, only with ``categorical_swap > 0``: ``u = rng.random((rows,
   categorical))``, then ``pick = rng.integers(0, 2**31, (rows, categorical))``; where
   ``u < categorical_swap`` the value becomes the training category
   ``others[pick % len(others)]``, others being the column's fitted categories but the
   row's own (a missing value stays missing). Left unchanged by default: a category has
   no "small" change.

Copies go through the saved feature transform and the model a group at a time (about
``GROUP_ROWS`` rows: memory stays bounded on a large split), each group in a few batched
forwards (as permutation importance does, ``global_explain.py``). Same seed, same bytes,
whatever the grouping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assayml.config.explain_schema import RobustnessConfig
from assayml.explain.selection import plain
from assayml.models.inference import predict

BATCH_VALUES = 1 << 22  # feature values per batched forward (16 MB of float32)
GROUP_ROWS = 1 << 17  # perturbed rows held at once (copies of the split, in whole copies)


def training_sds(train: pd.DataFrame, transform) -> list[float]:
    """Each numeric input column's training standard deviation (population, NaN left out)."""
    sds = []
    for col in transform.numeric:
        known = pd.to_numeric(train[col.name]).to_numpy(dtype=np.float64, na_value=np.nan)
        known = known[~np.isnan(known)]
        sds.append(float(known.std()) if len(known) else 0.0)
    return sds


def perturbed_copies(
    frame: pd.DataFrame,
    sds: list[float],
    transform,
    settings: RobustnessConfig,
    rng: np.random.Generator,
    count: int,
) -> pd.DataFrame:
    """The next ``count`` copies of ``frame``'s raw rows, drawn from ``rng`` copy by copy:
    [count * rows] rows, copy r's row i at r * rows + i."""
    rows, numeric, categorical = len(frame), transform.numeric, transform.categorical
    swaps = settings.categorical_swap > 0 and categorical
    eps, u, pick = [], [], []
    for _ in range(count):  # the documented order: each copy's draws together
        eps.append(rng.standard_normal((rows, len(numeric))))
        if swaps:
            u.append(rng.random((rows, len(categorical))))
            pick.append(rng.integers(0, 2**31, (rows, len(categorical))))
    copies = pd.concat([frame] * count, ignore_index=True)
    noise = np.stack(eps) if eps else np.zeros((0, rows, len(numeric)))  # [count, rows, k]
    for j, col in enumerate(numeric):
        values = pd.to_numeric(frame[col.name]).to_numpy(dtype=np.float64, na_value=np.nan)
        moved = values[None, :] + settings.noise * sds[j] * noise[:, :, j]  # [count, rows]
        if col.log:
            moved = np.maximum(moved, 0.0)
        copies[col.name] = moved.reshape(-1)
    if swaps:
        swap, chosen = np.stack(u) < settings.categorical_swap, np.stack(pick)
        for j, col in enumerate(categorical):
            copies[col.name] = _swapped(
                frame[col.name], col.categories, swap[:, :, j], chosen[:, :, j]
            )
    return copies


def _swapped(values: pd.Series, categories: list, swap: np.ndarray, pick: np.ndarray) -> list:
    """[repeats * rows] values: where ``swap``, the row's value replaced by
    ``others[pick % len(others)]``, others being the fitted categories (not a placeholder
    such as "__missing__") but the row's own, in their fitted order."""
    real = [c for c in categories if not str(c).startswith("__")]
    own = [str(v) for v in values]
    code = np.array([real.index(v) if v in real else -1 for v in own])  # -1: not a category
    count = np.where(code >= 0, len(real) - 1, len(real))  # how many others each row has
    drawn = pick % np.maximum(count, 1)  # [repeats, rows]
    # Skipping the row's own category: an index at or past it moves up by one.
    new = np.where((code >= 0) & (drawn >= code), drawn + 1, drawn)
    swap = swap & ((count > 0) & ~pd.isna(values).to_numpy())[None, :]  # missing stays
    table = np.array([*real, None], dtype=object)
    kept = np.broadcast_to(np.array(list(values), dtype=object), swap.shape)
    return list(np.where(swap, table[np.where(swap, new, len(real))], kept).reshape(-1))


def robustness(
    estimator,
    frame: pd.DataFrame,
    train: pd.DataFrame,
    settings: RobustnessConfig,
    seed: int,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """The robustness report of ``estimator`` (explain/model.py's raw-row model) on
    ``frame`` (the split's input columns); ``threshold``: the binary decision threshold
    (``evaluate.threshold``), as the row's own prediction uses it."""
    transform = estimator.transform
    regression = transform.target.task == "regression"
    rows, repeats = len(frame), settings.repeats
    base = _outputs(estimator, transform.transform(frame), rows, threshold)
    rng, sds = np.random.default_rng(seed), training_sds(train, transform)
    group = max(1, GROUP_ROWS // max(rows, 1))  # whole copies per group
    parts = []
    for start in range(0, repeats, group):
        count = min(group, repeats - start)
        copies = perturbed_copies(frame, sds, transform, settings, rng, count)
        parts.append(_outputs(estimator, transform.transform(copies), rows, threshold))
    moved = np.concatenate(parts).reshape(repeats, rows)
    if regression:
        change = np.abs(moved - base[None, :])  # [repeats, rows], target units
        limit = settings.tolerance * transform.target.std
        flips = change > limit
    else:
        flips = moved != base[None, :]
    per_row = flips.mean(axis=0)  # [rows]
    flipped_rows = float((per_row > 0).mean()) if rows else 0.0
    report = {
        "rows": rows,
        "repeats": repeats,
        "noise": settings.noise,
        "categorical_swap": settings.categorical_swap,
        "measure": f"|change| > {settings.tolerance} target sd" if regression else "class flip",
        "flipped_rows": round(flipped_rows, 6),  # rows that flip at least once
        "flip_rate": round(float(flips.mean()) if rows else 0.0, 6),  # of all copies
        "threshold": settings.threshold,
        "flagged": flipped_rows > settings.threshold,
        "least_robust": _least_robust(per_row, flips, moved, base, transform, settings.rows),
        "per_row": [round(float(v), 6) for v in per_row],
    }
    if regression:
        report["tolerance"] = round(float(limit), 6)
        report["max_change"] = round(float(change.max()), 6) if rows else 0.0
    return report


def _least_robust(per_row, flips, moved, base, transform, count: int) -> list[dict[str, Any]]:
    """The ``count`` rows that flip most often (ties: lower row first), flipped ones only."""
    order = np.argsort(-per_row, kind="stable")
    listed = []
    regression = transform.target.task == "regression"
    for i in order[:count]:
        if per_row[i] == 0:
            break
        entry: dict[str, Any] = {"row": int(i), "flip_rate": round(float(per_row[i]), 6)}
        if regression:
            entry["prediction"] = round(float(base[i]), 6)
            entry["max_change"] = round(float(np.abs(moved[:, i] - base[i]).max()), 6)
        else:
            classes = transform.target.classes
            entry["prediction"] = plain(classes[int(base[i])])
            went = moved[flips[:, i], i]
            values, counts = np.unique(went, return_counts=True)
            entry["flipped_to"] = {
                str(plain(classes[int(v)])): int(c) for v, c in zip(values, counts, strict=True)
            }
        listed.append(entry)
    return listed


def _outputs(estimator, x: np.ndarray, block: int, threshold: float) -> np.ndarray:
    """Predicted classes (or regression means) of transformed rows ``x``: stacked copies of
    ``block`` rows each. Batched forwards, except under MC dropout, whose masks are drawn
    from the model's seed per call: each copy then goes alone and sees the masks the
    unperturbed rows saw (so a flip is the perturbation's, not the masks')."""
    sampling = estimator.sampling
    step = block if sampling.mc_samples else max(block, BATCH_VALUES // max(x.shape[1], 1))
    parts = [
        predict(estimator.net, estimator.transform, x[i : i + step], threshold, sampling).predicted
        for i in range(0, len(x), max(step, 1))
    ]
    return np.concatenate(parts) if parts else np.zeros(0)
