"""How well one column alone predicts the target: the figure behind ``target_leakage``.

Classification: the univariate AUROC of the column as a score, folded so that 0.5 is no
signal and 1.0 a perfect separation (``max(auc, 1 - auc)``); for several classes, the mean
over classes of each one-vs-rest AUROC. Regression: |Spearman's rho|. A missing value
ranks below every present one (missingness that tracks the label is leakage too). A text
column is scored through out-of-fold target encoding (K folds, seeded), so a column with a
category per row does not look predictive by memorising itself.

AUROC from ranks (the Mann-Whitney statistic) rather than scikit-learn's ``roc_auc_score``:
one ranking per column serves every class, and the leakage check stays within its budget
on a million rows (``benchmarks/insights.py``). Tests check both against scikit-learn and
SciPy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_ROWS = 100_000  # a seeded sample past this: the AUROC's error is then about 0.003
FOLDS = 5  # out-of-fold target encoding of text columns


def leakage_scores(train: pd.DataFrame, target: str, task: str, seed: int) -> dict[str, float]:
    """Per input column of ``train``: the folded univariate AUROC, or |Spearman| for
    regression (NaN-free; a column with one value scores 0.5, or 0)."""
    frame = train[train[target].notna()]
    if len(frame) > MAX_ROWS:
        frame = frame.sample(MAX_ROWS, random_state=seed)
    frame = frame.reset_index(drop=True)
    y = frame[target]
    regression = task == "regression"
    labels = None if regression else pd.factorize(y)[0]
    scores = {}
    for name, series in frame.items():
        if name == target:
            continue
        values = _scores(series, y, labels, regression, seed)
        scores[str(name)] = (
            _spearman(values, y.to_numpy(dtype=np.float64))
            if regression
            else _folded_auroc(values, labels)
        )
    return scores


def _scores(series: pd.Series, y: pd.Series, labels, regression: bool, seed: int) -> np.ndarray:
    """The column as numbers: itself if numeric, else its out-of-fold target encoding
    (one column per class for classification); missing as -inf."""
    numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    if numeric:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(values), -np.inf, values)[:, None]
    codes = pd.factorize(series, use_na_sentinel=True)[0]
    codes = np.where(codes < 0, codes.max() + 1, codes)  # missing: a category of its own
    outcome = (
        y.to_numpy(dtype=np.float64)[:, None]
        if regression
        else np.eye(labels.max() + 1)[labels]  # one-hot labels: [rows, classes]
    )
    return _out_of_fold_means(codes, outcome, seed)


def _out_of_fold_means(codes: np.ndarray, outcome: np.ndarray, seed: int) -> np.ndarray:
    """Each row's category mean of ``outcome`` over the other folds (the overall mean of
    those folds for a category they lack)."""
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(codes))
    categories = codes.max() + 1
    encoded = np.empty_like(outcome)
    for k in range(FOLDS):
        held, rest = fold == k, fold != k
        sums = np.column_stack(
            [
                np.bincount(codes[rest], weights=outcome[rest, j], minlength=categories)
                for j in range(outcome.shape[1])
            ]
        )
        counts = np.bincount(codes[rest], minlength=categories)[:, None]
        prior = outcome[rest].mean(axis=0) if rest.any() else outcome.mean(axis=0)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), prior)
        encoded[held] = means[codes[held]]
    return encoded


def rankdata(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as SciPy's ``rankdata``;
    written out because importing ``scipy.stats`` costs prepare seconds."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def _folded_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of max(AUROC, 1 - AUROC) of class k against the rest, with the
    score column for that class (one shared column for a numeric input)."""
    classes = labels.max() + 1
    ranked = [rankdata(scores[:, j]) for j in range(scores.shape[1])]
    folded = []
    for k in range(classes if classes > 2 else 1):
        ranks = ranked[k if len(ranked) > 1 else 0]
        positive = labels == (k if classes > 2 else 1)
        n1, n0 = int(positive.sum()), int((~positive).sum())
        if not n1 or not n0:
            continue
        auc = (ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
        folded.append(max(auc, 1 - auc))
    return float(np.mean(folded)) if folded else 0.5


def _spearman(scores: np.ndarray, y: np.ndarray) -> float:
    x, t = rankdata(scores[:, 0]), rankdata(y)
    if x.std() == 0 or t.std() == 0:
        return 0.0
    return float(abs(np.corrcoef(x, t)[0, 1]))
