"""The figures behind target_leakage against scikit-learn and SciPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata as scipy_rankdata
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from assayml.data.leakage import leakage_scores, rankdata


def test_ranks_equal_scipys_with_ties() -> None:
    values = np.random.default_rng(0).integers(0, 20, 500).astype(float)
    values[:3] = -np.inf
    assert np.array_equal(rankdata(values), scipy_rankdata(values))


def test_numeric_auroc_is_scikit_learns_folded() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    frame = pd.DataFrame(
        {"good": y + rng.normal(0, 0.8, 3000), "flipped": -y + rng.normal(0, 2, 3000), "y": y}
    )
    frame.loc[:99, "good"] = np.nan  # missing ranks below every value
    scores = leakage_scores(frame, "y", "binary", seed=0)
    good = frame["good"].fillna(frame["good"].min() - 1)
    assert scores["good"] == pytest.approx(roc_auc_score(y, good), abs=1e-12)
    flipped = roc_auc_score(y, frame["flipped"])
    assert flipped < 0.5 and scores["flipped"] == pytest.approx(1 - flipped, abs=1e-12)


def test_multiclass_is_the_mean_of_one_vs_rest() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 2000)
    x = y * 1.0 + rng.normal(0, 1, 2000)
    scores = leakage_scores(pd.DataFrame({"x": x, "y": y}), "y", "multiclass", seed=0)
    per_class = [roc_auc_score(y == k, x) for k in range(3)]
    assert scores["x"] == pytest.approx(np.mean([max(a, 1 - a) for a in per_class]), abs=1e-12)


def test_regression_is_absolute_spearman() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=1000)
    x = -np.exp(y) + rng.normal(0, 0.1, 1000)
    scores = leakage_scores(pd.DataFrame({"x": x, "y": y}), "y", "regression", seed=0)
    assert scores["x"] == pytest.approx(abs(spearmanr(x, y).statistic), abs=1e-12)


def test_text_columns_use_out_of_fold_encoding() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 4000)
    frame = pd.DataFrame(
        {
            "code": np.where(y == 1, "yes", "no"),  # the label, spelled out
            "row_id": [f"r{i}" for i in range(4000)],  # unique: memorises, predicts nothing
            "y": y,
        }
    )
    scores = leakage_scores(frame, "y", "binary", seed=0)
    assert scores["code"] == pytest.approx(1.0)
    assert scores["row_id"] == pytest.approx(0.5, abs=0.03)
