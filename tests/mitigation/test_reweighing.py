"""Reweighing's weights against the Kamiran-Calders formula written out from counts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from assayml.mitigation.reweighing import reweighing_weights


def kamiran_calders(groups: list[str], labels: list[int]) -> list[float]:
    """w(g, y) = P(g) P(y) / P(g, y), from plain counts (no numpy, no assayml)."""
    n = len(labels)
    by_group, by_label = Counter(groups), Counter(labels)
    by_cell = Counter(zip(groups, labels, strict=True))
    return [
        (by_group[g] / n) * (by_label[y] / n) / (by_cell[(g, y)] / n)
        for g, y in zip(groups, labels, strict=True)
    ]


def table(seed: int = 3, rows: int = 500):
    """A 3-valued float facet with missing values and a label that depends on it."""
    rng = np.random.default_rng(seed)
    facet = rng.choice([1.0, 2.0, 3.0], rows, p=[0.5, 0.3, 0.2])
    facet[rng.random(rows) < 0.07] = np.nan
    labels = (rng.random(rows) < np.where(facet == 1.0, 0.7, 0.4)).astype(np.int64)
    return pd.Series(facet), labels


def test_weights_are_the_kamiran_calders_formula() -> None:
    facet, labels = table()
    weights, record = reweighing_weights(facet, labels)
    names = ["missing" if np.isnan(v) else str(int(v)) for v in facet]
    expected = kamiran_calders(names, labels.tolist())
    np.testing.assert_allclose(weights, np.float32(expected), rtol=0, atol=0)
    assert weights.dtype == np.float32
    assert record["rows"] == len(labels)
    assert {c["group"] for c in record["weights"]} == {"1", "2", "3", "missing"}
    for cell in record["weights"]:
        rows = [i for i, g in enumerate(names) if g == cell["group"] and labels[i] == cell["label"]]
        assert cell["rows"] == len(rows)
        assert abs(cell["weight"] - expected[rows[0]]) < 1e-12


def test_weighted_labels_are_independent_of_the_group() -> None:
    facet, labels = table(seed=8)
    weights, _ = reweighing_weights(facet, labels)
    w = weights.astype(np.float64)
    assert abs(w.sum() - len(labels)) < 1e-3  # the weights' mean is 1
    names = facet.fillna(-1).to_numpy()
    overall = labels.mean()
    for group in np.unique(names):
        rows = names == group
        assert abs(np.sum(w[rows] * labels[rows]) / np.sum(w[rows]) - overall) < 1e-6


def test_the_same_inputs_give_the_same_bytes() -> None:
    facet, labels = table(seed=11)
    first, _ = reweighing_weights(facet, labels)
    second, _ = reweighing_weights(facet.copy(), labels.copy())
    assert first.tobytes() == second.tobytes()


def test_cross_validation_refuses_mitigation() -> None:
    from assayml.config import compose, to_typed
    from assayml.errors import ConfigError
    from assayml.stages.cv import run_cv
    from tests.conftest import REPO

    cfg = to_typed(compose(["mitigation=reweighing", "cv.folds=3"], REPO / "conf"))
    with pytest.raises(ConfigError, match="does not apply mitigation=reweighing"):
        run_cv(cfg)
