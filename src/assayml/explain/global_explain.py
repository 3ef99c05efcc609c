"""Global explanations: mean |SHAP| ranking, permutation importance with confidence
intervals, partial dependence and ICE curves (scikit-learn's definitions, computed on
arrays in a few batched forwards of the model over raw rows), and a surrogate decision
tree with its fidelity and rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assayml.explain.selection import column_groups
from assayml.models.inference import Predictions, predict

ICE_ROWS = 50  # individual curves drawn per feature
BATCH_VALUES = 1 << 22  # feature values per batched forward (16 MB of float32)


def shap_ranking(values: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
    """Columns by mean |SHAP| over the explained rows, largest first."""
    means = np.abs(values).mean(axis=0)
    order = np.argsort(-means, kind="stable")
    return [{"column": columns[i], "mean_abs_shap": round(float(means[i]), 6)} for i in order]


def permutation(
    estimator, frame: pd.DataFrame, y: np.ndarray, repeats: int, seed: int, regression: bool
) -> list[dict[str, Any]]:
    """Drop in score (accuracy, or R² for regression) when each column is shuffled, with a
    95 % confidence interval over ``repeats`` shuffles; largest first.

    The numbers are scikit-learn's ``permutation_importance(estimator, frame, y,
    n_repeats=repeats, random_state=seed)``, computed on arrays: the rows are transformed
    once, and every (column, repeat) copy with that column's features shuffled goes through
    the model in a few large forwards. The transform works column by column, row by row,
    so shuffling a raw column's rows is shuffling the rows of its feature block (one
    feature, or its one-hot block): the importance stays that of the raw column."""
    transform, classes = estimator.transform, None
    x = transform.transform(frame)  # [rows, features], float32
    blocks = _feature_blocks(transform, list(frame.columns))
    shuffles = sklearn_shuffles(len(frame), repeats, seed)  # [repeats, rows]
    if not regression:
        classes = np.asarray(transform.target.classes)
    y = np.asarray(y)

    def score(copies: np.ndarray) -> np.ndarray:  # [k, rows, features] -> [k]
        k, rows, features = copies.shape
        flat = copies.reshape(k * rows, features)
        out = _predictions(estimator, flat, rows).predicted.reshape(k, rows)
        if not regression:
            return (classes[out] == y).mean(axis=1)
        return _r2(y.astype(np.float64), out)

    baseline = score(x[None])[0]
    pairs = [(c, r) for c in range(len(blocks)) for r in range(repeats)]
    per_batch = max(1, BATCH_VALUES // max(x.size, 1))
    scores = []
    for start in range(0, len(pairs), per_batch):
        chunk = pairs[start : start + per_batch]
        copies = np.repeat(x[None], len(chunk), axis=0)  # [k, rows, features]
        for i, (c, r) in enumerate(chunk):  # column c's block, its rows in repeat r's order
            copies[i][:, blocks[c]] = x[np.ix_(shuffles[r], blocks[c])]
        scores.append(score(copies))
    importances = baseline - np.concatenate(scores).reshape(len(blocks), repeats)
    means, stds = importances.mean(axis=1), importances.std(axis=1)
    half = 1.96 * stds / np.sqrt(repeats)
    rows = [
        {
            "column": col,
            "mean": round(float(m), 6),
            "std": round(float(s), 6),
            "ci95": [round(float(m - h), 6), round(float(m + h), 6)],
        }
        for col, m, s, h in zip(frame.columns, means, stds, half, strict=True)
    ]
    return sorted(rows, key=lambda r: -r["mean"])


def _predictions(estimator, x: np.ndarray, block: int):
    """The model's predictions for transformed rows ``x``, stacked copies of ``block`` rows
    each. One forward for them all, except under MC dropout: its masks are drawn from the
    model's seed per call, so each copy goes alone, as scikit-learn's one call per copy
    did, and sees the same masks as the unshuffled rows (no extra noise in the
    differences)."""
    sampling = estimator.sampling
    if not sampling.mc_samples or len(x) <= block:
        return predict(estimator.net, estimator.transform, x, sampling=sampling)
    parts = [
        predict(estimator.net, estimator.transform, x[i : i + block], sampling=sampling)
        for i in range(0, len(x), block)
    ]
    return Predictions(
        parts[0].task,
        np.concatenate([p.predicted for p in parts]),
        None
        if parts[0].probabilities is None
        else np.concatenate([p.probabilities for p in parts]),
        np.concatenate([p.outputs for p in parts], axis=1),
    )


def sklearn_shuffles(rows: int, repeats: int, seed: int) -> np.ndarray:
    """[repeats, rows]: the row order of a column at each repeat of scikit-learn's
    ``permutation_importance(random_state=seed)`` (1.x): ``RandomState(seed)`` draws one
    seed; a ``RandomState`` of that seed shuffles ``arange(rows)`` in place once per repeat
    (the same shuffles for every column), and each shuffle is applied to the column as the
    previous repeat left it, so repeat r shows the composition of the first r shuffles."""
    drawn = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    rng, index = np.random.RandomState(drawn), np.arange(rows)
    order, orders = np.arange(rows), []
    for _ in range(repeats):
        rng.shuffle(index)
        order = order[index]
        orders.append(order)
    return np.asarray(orders, dtype=np.int64).reshape(repeats, rows)


def _r2(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """R² of each row of ``predicted`` [k, rows] against ``y`` [rows], as scikit-learn's
    ``r2_score`` (1 for a perfect fit of a constant target, else 0 where R² is undefined)."""
    residual = ((y - predicted) ** 2).sum(axis=1)
    total = ((y - y.mean()) ** 2).sum()
    if total == 0:
        return np.where(residual == 0, 1.0, 0.0)
    return 1 - residual / total


def _feature_blocks(transform, columns: list[str]) -> list[np.ndarray]:
    """Positions of each raw column's transformed features, in ``columns``' order."""
    names, groups = column_groups(transform)
    where = dict(zip(names, groups, strict=True))
    return [np.asarray(where[c], dtype=np.int64) for c in columns]


def dependence(
    estimator, frame: pd.DataFrame, columns: list[str], categorical: list[str], seed: int
) -> dict[str, Any]:
    """Partial dependence (average) and ICE (per row) curves of each column.

    The numbers are scikit-learn's ``partial_dependence(kind="both", method="brute")`` on
    the grids below; every (column, grid value, row) goes through the transform and the
    model in one batch rather than one call per grid value."""
    rng = np.random.default_rng(seed)
    sample = frame.iloc[rng.permutation(len(frame))[:ICE_ROWS]] if len(frame) > ICE_ROWS else frame
    # scikit-learn refuses integer columns (its grid would round); the transform takes floats.
    integers = [c for c in sample.columns if pd.api.types.is_integer_dtype(sample[c])]
    sample = sample.astype(dict.fromkeys(integers, "float64"))
    grids = {
        col: (
            _observed_categories(sample[col]) if col in categorical else _observed_grid(sample[col])
        )
        for col in columns
    }
    batched = [c for c in columns if grids[c] is not None]
    curves = _batched_curves(estimator, sample, {c: grids[c][c] for c in batched})
    for col in columns:  # no observed value: scikit-learn's own grid, as before
        if col not in curves:
            curves[col] = _sklearn_curve(estimator, sample, col, col in categorical)
    return {col: curves[col] for col in columns}


def _batched_curves(estimator, sample: pd.DataFrame, grids: dict[str, np.ndarray]):
    if not grids:
        return {}
    n = len(sample)
    frames = []
    for col, grid in grids.items():
        copies = pd.concat([sample] * len(grid), ignore_index=True)  # grid-major
        copies[col] = np.repeat(grid, n)
        frames.append(copies)
    response = _response(estimator, pd.concat(frames, ignore_index=True), n)  # [outputs, all]
    curves, start = {}, 0
    for col, grid in grids.items():
        block = response[:, start : start + len(grid) * n].reshape(-1, len(grid), n)
        start += len(grid) * n
        average = block.mean(axis=2)  # [outputs, grid]
        index = _response_index(estimator, average)
        curves[col] = {
            "grid": [_plain(v) for v in grid],
            "average": [round(float(v), 6) for v in average[index]],
            "individual": np.round(block[index].T, 6).tolist(),  # [rows, grid]
        }
    return curves


def _response(estimator, frame: pd.DataFrame, block: int) -> np.ndarray:
    """scikit-learn's PDP response: a classifier's probabilities ([1, rows] of the last
    class for binary, [classes, rows] otherwise), or a regressor's predictions [1, rows]."""
    pred = _predictions(estimator, estimator.transform.transform(frame), block)
    if pred.probabilities is None:
        return np.asarray(pred.predicted, dtype=np.float64)[None]
    probabilities = pred.probabilities.T
    return probabilities[-1:] if probabilities.shape[0] == 2 else probabilities


def _sklearn_curve(estimator, sample: pd.DataFrame, col: str, categorical: bool):
    from sklearn.inspection import partial_dependence

    result = partial_dependence(
        estimator,
        sample,
        [col],
        kind="both",
        grid_resolution=20,
        categorical_features=[col] if categorical else None,
    )
    index = _response_index(estimator, result["average"])
    return {
        "grid": [_plain(v) for v in result["grid_values"][0]],
        "average": [round(float(v), 6) for v in result["average"][index]],
        "individual": np.round(result["individual"][index], 6).tolist(),
    }


def _observed_categories(values: pd.Series) -> dict | None:
    """The categories present, sorted: scikit-learn sorts a column's values to find them,
    which fails on a missing value beside text."""
    observed = sorted({str(v) for v in values.dropna()})
    return {values.name: np.array(observed, dtype=object)} if observed else None


def _observed_grid(values: pd.Series, points: int = 20) -> dict | None:
    """scikit-learn's grid (the 5th to 95th percentile, or every value when there are few),
    from the observed values only: with a missing value in the column its percentiles are
    NaN and so would the whole curve be."""
    observed = values.dropna().to_numpy(dtype=np.float64)
    if observed.size == 0:
        return None
    unique = np.unique(observed)
    if unique.size <= points:
        return {values.name: unique}
    low, high = np.percentile(observed, [5, 95])
    return {values.name: np.linspace(low, high, points)}


def surrogate(
    estimator, train: pd.DataFrame, test: pd.DataFrame, depth: int, seed: int, regression: bool
) -> dict[str, Any]:
    """A depth-limited decision tree fitted to the model's own predictions on train; its
    fidelity (agreement, or R², with the model) on the explained split, and its rules."""
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text

    x_train, x_test = _encoded(train, test)
    target_train, target_test = estimator.predict(train), estimator.predict(test)
    kind = DecisionTreeRegressor if regression else DecisionTreeClassifier
    tree = kind(max_depth=depth, random_state=seed).fit(x_train, target_train)
    fidelity = (r2_score if regression else accuracy_score)(target_test, tree.predict(x_test))
    return {
        "depth": depth,
        "fidelity": round(float(fidelity), 6),
        "fidelity_measure": "r2" if regression else "agreement",
        "rules": export_text(tree, feature_names=list(x_train.columns), decimals=3),
        "tree": tree,  # for the plot; not written to JSON
    }


def _encoded(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw numbers as they are and one column per category: rules a reader can check."""
    both = pd.get_dummies(pd.concat([train, test], keys=["train", "test"]), dtype=float)
    return both.loc["train"], both.loc["test"]


def _response_index(estimator, average: np.ndarray) -> int:
    """Binary classifiers: the positive class (scikit-learn returns it alone); multiclass:
    the class with the highest average response."""
    if average.shape[0] == 1:
        return 0
    return int(np.argmax(average.mean(axis=1)))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
