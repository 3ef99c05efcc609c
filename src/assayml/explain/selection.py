"""Which rows to explain, for which output, against which baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from assayml.config.schema import ExplainConfig
from assayml.errors import ConfigError
from assayml.explain.local import Background
from assayml.features.transform import FeatureTransform
from assayml.models.inference import Predictions


def select_rows(cfg: ExplainConfig, pred: Predictions, y: np.ndarray) -> list[int]:
    """Row positions in the split: given indices, or the first / most uncertain /
    misclassified (for regression: largest error) k."""
    rows = len(pred.predicted)
    if not isinstance(cfg.rows, str):
        chosen = [int(i) for i in cfg.rows]
        outside = [i for i in chosen if not 0 <= i < rows]
        if outside:
            raise ConfigError(f"explain.rows: {outside} outside the {rows} rows of the split")
        return chosen
    kind, _, count = cfg.rows.partition(":")
    k = min(int(count or 5), rows)
    if kind == "first":
        return list(range(k))
    if kind == "most_uncertain":
        score = pred.uncertainty.get("predictive_entropy", pred.uncertainty.get("variance"))
        return [int(i) for i in np.argsort(-score, kind="stable")[:k]]
    error = np.abs(pred.predicted - y) if pred.task == "regression" else pred.predicted != y
    wrong = np.argsort(-error.astype(float), kind="stable")
    return [int(i) for i in wrong[: min(k, int(np.count_nonzero(error)))]]


def targets(
    cfg: ExplainConfig, pred: Predictions, rows: list[int], transform: FeatureTransform
) -> torch.Tensor:
    """The output explained per row: the predicted class, a configured class, or the
    regression output (0)."""
    if pred.task == "regression":
        return torch.zeros(len(rows), dtype=torch.long)
    if cfg.target == "predicted":
        return torch.as_tensor(pred.predicted[rows], dtype=torch.long)
    labels = [str(c) for c in transform.target.classes]
    if str(cfg.target) not in labels:
        raise ConfigError(f"explain.target: '{cfg.target}' is not a class ({', '.join(labels)})")
    return torch.full((len(rows),), labels.index(str(cfg.target)), dtype=torch.long)


def background(cfg: ExplainConfig, train_x: np.ndarray, seed: int) -> Background:
    """zeros, the training mean, or k-means centres of the training rows (their weighted
    mean is then the single baseline)."""
    features = train_x.shape[1]
    if cfg.baseline == "zeros":
        rows = torch.zeros(1, features, dtype=torch.float64)
        return Background(rows, rows)
    if cfg.baseline == "mean":
        rows = torch.as_tensor(train_x.mean(axis=0, keepdims=True), dtype=torch.float64)
        return Background(rows, rows)
    from sklearn.cluster import KMeans

    k = min(cfg.background, len(train_x))
    kmeans = KMeans(n_clusters=k, random_state=seed, n_init=4).fit(train_x)
    weights = np.bincount(kmeans.labels_, minlength=k) / len(train_x)
    centres = torch.as_tensor(kmeans.cluster_centers_, dtype=torch.float64)
    single = torch.as_tensor(weights @ kmeans.cluster_centers_, dtype=torch.float64)[None]
    return Background(single, centres)


def column_groups(transform: FeatureTransform) -> tuple[list[str], list[list[int]]]:
    """Raw input columns and the transformed feature positions of each."""
    names, groups, position = [], [], 0
    for col in transform.numeric:
        names.append(col.name)
        groups.append([position])
        position += 1
    for col in transform.categorical:
        names.append(col.name)
        groups.append(list(range(position, position + len(col.categories))))
        position += len(col.categories)
    return names, groups


def plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def numpy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with pandas' nullable extension dtypes (``Int64``, ``boolean``, ``string``)
    as NumPy ones: numbers and booleans as float64 (NA becomes NaN), text as object (NA
    becomes None). A declared ``{dtype: int, nullable: true}`` column is ``Int64``, and
    NumPy, Captum and scikit-learn cannot take it (``Cannot interpret 'Int64Dtype()'``)."""
    converted = {}
    for name, series in frame.items():
        dtype = series.dtype
        if not isinstance(dtype, pd.api.extensions.ExtensionDtype) or isinstance(
            dtype, pd.CategoricalDtype
        ):
            continue
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            converted[name] = series.astype("float64")
        else:
            converted[name] = series.astype(object).where(series.notna(), None)
    return frame.assign(**converted) if converted else frame
