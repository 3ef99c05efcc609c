"""Counterfactuals by growing spheres (Laugel et al., 2018, "Inverse Classification for
Comparison-based Interpretability in Machine Learning"), in the raw columns.

Candidates are drawn in layers of growing radius around the row (numeric columns moved in
units of their training standard deviation, categorical columns switched with a probability
that grows with the radius); immutable columns never change, numeric values stay within the
schema's range (or the training range) and integers stay integers, categories stay among the
known ones. The closest candidate that reaches the goal (another class; for regression, past
a target value) is then made sparse: each changed column goes back to its original value if
the goal still holds without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

LAYERS = 12  # radii 0.25, 0.5, ... 3 standard deviations
CANDIDATES = 256  # per layer


@dataclass
class Space:
    numeric: dict[str, tuple[float, float, float, bool]]  # col -> (low, high, std, integer)
    categories: dict[str, list[Any]]  # col -> allowed values
    immutable: set[str]


def counterfactual(
    row: pd.DataFrame, reached: Callable[[pd.DataFrame], np.ndarray], space: Space, seed: int
) -> dict[str, Any]:
    """The smallest change to ``row`` (one raw row) for which ``reached`` is true."""
    rng = np.random.default_rng(seed)
    numeric = [c for c in space.numeric if c not in space.immutable]
    categorical = [c for c in space.categories if c not in space.immutable]
    for layer in range(LAYERS):
        inner, outer = layer * 0.25, (layer + 1) * 0.25
        candidates = _layer(row, numeric, categorical, space, inner, outer, rng)
        hits = candidates[reached(candidates)]
        if len(hits):
            best = hits.iloc[int(np.argmin(_distance(row, hits, space)))].to_frame().T
            best = _sparsify(row, best.astype(row.dtypes.to_dict()), reached, space)
            return _report(row, best, space, valid=True)
    return _report(row, row, space, valid=False)


def _layer(row, numeric, categorical, space: Space, inner, outer, rng) -> pd.DataFrame:
    frame = pd.concat([row] * CANDIDATES, ignore_index=True)
    if numeric:
        direction = rng.normal(size=(CANDIDATES, len(numeric)))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        radius = rng.uniform(inner, outer, size=(CANDIDATES, 1))
        for j, col in enumerate(numeric):
            low, high, std, integer = space.numeric[col]
            values = float(row[col].iloc[0]) + direction[:, j] * radius[:, 0] * std
            values = np.clip(np.round(values) if integer else values, low, high)
            frame[col] = values.astype(frame[col].dtype, copy=False)
    for col in categorical:
        switch = rng.random(CANDIDATES) < min(1.0, outer / 3)
        choices = rng.choice(np.asarray(space.categories[col], dtype=object), size=CANDIDATES)
        frame[col] = np.where(switch, choices, frame[col].to_numpy(dtype=object))
    return frame


def _distance(row: pd.DataFrame, frame: pd.DataFrame, space: Space) -> np.ndarray:
    """L1 over numeric columns in standard deviations, plus one per changed category."""
    total = np.zeros(len(frame))
    for col, (_, _, std, _) in space.numeric.items():
        total += np.abs(frame[col].to_numpy(float) - float(row[col].iloc[0])) / std
    for col in space.categories:
        total += (frame[col].astype(str).to_numpy() != str(row[col].iloc[0])).astype(float)
    return total


def _sparsify(row, best, reached, space: Space) -> pd.DataFrame:
    changed = [c for c in (*space.numeric, *space.categories) if _differs(row, best, c)]
    by_size = sorted(changed, key=lambda c: _distance(row, _only(row, best, c), space)[0])
    for col in by_size:
        trial = best.copy()
        trial[col] = row[col].to_numpy()
        if reached(trial)[0]:
            best = trial
    return best


def _only(row, best, col):
    single = row.copy()
    single[col] = best[col].to_numpy()
    return single


def _differs(row, best, col) -> bool:
    return str(row[col].iloc[0]) != str(best[col].iloc[0])


def _report(row, best, space: Space, valid: bool) -> dict[str, Any]:
    changes = {
        c: {"from": _plain(row[c].iloc[0]), "to": _plain(best[c].iloc[0])}
        for c in (*space.numeric, *space.categories)
        if _differs(row, best, c)
    }
    return {
        "valid": valid,
        "changes": changes,
        "distance": round(float(_distance(row, best, space)[0]), 6) if valid else None,
    }


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return round(value, 6) if isinstance(value, float) else value
