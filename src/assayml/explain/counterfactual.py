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
    """The smallest change to ``row`` (one raw row) for which ``reached`` is true.

    Every layer's candidates are drawn first (the same draws, in the same order, as a
    layer-by-layer search) and judged in one call of ``reached``; the innermost layer with
    a hit wins, as if the layers had been tried one by one."""
    rng = np.random.default_rng(seed)
    numeric = [c for c in space.numeric if c not in space.immutable]
    categorical = [c for c in space.categories if c not in space.immutable]
    origin = {c: row[c].iloc[0] for c in (*numeric, *categorical)}
    layers = [
        _layer(origin, numeric, categorical, space, layer * 0.25, (layer + 1) * 0.25, rng)
        for layer in range(LAYERS)
    ]
    candidates = _copies(row, LAYERS * CANDIDATES)
    for col in numeric:
        values = np.concatenate([layer[col] for layer in layers])
        candidates[col] = values.astype(candidates[col].dtype, copy=False)
    for col in categorical:
        candidates[col] = np.concatenate([layer[col] for layer in layers])
    hit = np.asarray(reached(candidates), dtype=bool).reshape(LAYERS, CANDIDATES)
    for layer in np.flatnonzero(hit.any(axis=1))[:1]:
        chosen = layer * CANDIDATES + np.flatnonzero(hit[layer])
        hits = candidates.iloc[chosen]
        best = hits.iloc[int(np.argmin(_distance(row, hits, space)))].to_frame().T
        best = _sparsify(row, best.astype(row.dtypes.to_dict()), reached, space)
        return _report(row, best, space, valid=True)
    return _report(row, row, space, valid=False)


def _layer(origin, numeric, categorical, space: Space, inner, outer, rng) -> dict[str, np.ndarray]:
    """One layer's candidate values of the columns that may move, {column: [CANDIDATES]},
    around the row's values ``origin`` ({column: value})."""
    values: dict[str, np.ndarray] = {}
    if numeric:
        direction = rng.normal(size=(CANDIDATES, len(numeric)))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        radius = rng.uniform(inner, outer, size=(CANDIDATES, 1))
        for j, col in enumerate(numeric):
            low, high, std, integer = space.numeric[col]
            moved = float(origin[col]) + direction[:, j] * radius[:, 0] * std
            values[col] = np.clip(np.round(moved) if integer else moved, low, high)
    for col in categorical:
        switch = rng.random(CANDIDATES) < min(1.0, outer / 3)
        choices = rng.choice(np.asarray(space.categories[col], dtype=object), size=CANDIDATES)
        current = np.full(CANDIDATES, origin[col], dtype=object)
        values[col] = np.where(switch, choices, current)
    return values


def _distance(row: pd.DataFrame, frame: pd.DataFrame, space: Space) -> np.ndarray:
    """L1 over numeric columns in standard deviations, plus one per changed category."""
    total = np.zeros(len(frame))
    for col, (_, _, std, _) in space.numeric.items():
        total += np.abs(frame[col].to_numpy(float) - float(row[col].iloc[0])) / std
    for col in space.categories:
        total += (frame[col].astype(str).to_numpy() != str(row[col].iloc[0])).astype(float)
    return total


def _sparsify(row, best, reached, space: Space) -> pd.DataFrame:
    """Put each changed column back, smallest change first, if the goal still holds.

    The same greedy pass as trying one column at a time, judged in few calls: each call
    judges, from the current ``best``, the chain (put back the first column, the first
    two, ...) and each column alone. A chain that holds for its first m columns means the
    greedy pass keeps those m put back and fails at the next; when the first column alone
    fails, the first single that holds is the next column the pass puts back."""
    changed = [c for c in (*space.numeric, *space.categories) if _differs(row, best, c)]
    todo = sorted(changed, key=lambda c: _own_distance(row, best, c, space))
    while todo:
        k = len(todo)
        trials = _copies(best, 2 * k)
        steps = np.arange(k)
        for i, col in enumerate(todo):
            values = trials[col].to_numpy(copy=True)
            original = row[col].iloc[0]
            values[:k][steps >= i] = original  # the chain: columns 0..j put back
            values[k + i] = original  # column i alone
            trials[col] = values
        holds = np.asarray(reached(trials.astype(best.dtypes.to_dict())), dtype=bool)
        chain, single = holds[:k], holds[k:]
        kept = k if chain.all() else int(np.argmin(chain))  # leading chain steps that hold
        if kept:
            best = trials.iloc[[kept - 1]].reset_index(drop=True)
            todo = todo[kept + 1 :]  # todo[kept] failed from this best
            continue
        if not single.any():
            break
        first = int(np.argmax(single))  # todo[:first] fail alone from best
        best = trials.iloc[[k + first]].reset_index(drop=True)
        todo = todo[first + 1 :]
    return best.astype(row.dtypes.to_dict())


def _copies(row: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` copies of a one-row frame, dtypes kept (``pd.concat`` of a list of copies
    takes ~100x longer)."""
    return row.iloc[np.zeros(count, dtype=np.int64)].reset_index(drop=True)


def _own_distance(row, best, col: str, space: Space) -> float:
    """``_distance`` of the row with only ``col`` changed to ``best``'s value: that column's
    term alone (the others add exact zeros)."""
    if col in space.numeric:
        std = space.numeric[col][2]
        return abs(float(best[col].iloc[0]) - float(row[col].iloc[0])) / std
    return float(str(best[col].iloc[0]) != str(row[col].iloc[0]))


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
