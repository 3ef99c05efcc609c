"""Global explanations: mean |SHAP| ranking, permutation importance with confidence
intervals, partial dependence and ICE curves (scikit-learn, through an estimator over raw
rows), and a surrogate decision tree with its fidelity and rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ICE_ROWS = 50  # individual curves drawn per feature


def shap_ranking(values: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
    """Columns by mean |SHAP| over the explained rows, largest first."""
    means = np.abs(values).mean(axis=0)
    order = np.argsort(-means, kind="stable")
    return [{"column": columns[i], "mean_abs_shap": round(float(means[i]), 6)} for i in order]


def permutation(
    estimator, frame: pd.DataFrame, y: np.ndarray, repeats: int, seed: int, regression: bool
) -> list[dict[str, Any]]:
    """Drop in score (accuracy, or R² for regression) when each column is shuffled, with a
    95 % confidence interval over ``repeats`` shuffles; largest first."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        estimator,
        frame,
        y,
        n_repeats=repeats,
        random_state=seed,
        scoring="r2" if regression else "accuracy",
    )
    half = 1.96 * result.importances_std / np.sqrt(repeats)
    rows = [
        {
            "column": col,
            "mean": round(float(m), 6),
            "std": round(float(s), 6),
            "ci95": [round(float(m - h), 6), round(float(m + h), 6)],
        }
        for col, m, s, h in zip(
            frame.columns, result.importances_mean, result.importances_std, half, strict=True
        )
    ]
    return sorted(rows, key=lambda r: -r["mean"])


def dependence(
    estimator, frame: pd.DataFrame, columns: list[str], categorical: list[str], seed: int
) -> dict[str, Any]:
    """Partial dependence (average) and ICE (per row) curves of each column."""
    from sklearn.inspection import partial_dependence

    rng = np.random.default_rng(seed)
    sample = frame.iloc[rng.permutation(len(frame))[:ICE_ROWS]] if len(frame) > ICE_ROWS else frame
    # scikit-learn refuses integer columns (its grid would round); the transform takes floats.
    integers = [c for c in sample.columns if pd.api.types.is_integer_dtype(sample[c])]
    sample = sample.astype(dict.fromkeys(integers, "float64"))
    curves = {}
    for col in columns:
        result = partial_dependence(
            estimator,
            sample,
            [col],
            kind="both",
            grid_resolution=20,
            categorical_features=[col] if col in categorical else None,
            custom_values=(
                _observed_categories(sample[col])
                if col in categorical
                else _observed_grid(sample[col])
            ),
        )
        index = _response_index(estimator, result["average"])
        curves[col] = {
            "grid": [_plain(v) for v in result["grid_values"][0]],
            "average": [round(float(v), 6) for v in result["average"][index]],
            "individual": np.round(result["individual"][index], 6).tolist(),
        }
    return curves


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
