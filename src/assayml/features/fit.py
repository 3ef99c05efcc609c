"""Fit the declared feature pipeline on the training split only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import (
    CategoricalImpute,
    ColumnSpec,
    ColumnType,
    FeaturesConfig,
    Impute,
    Scale,
)
from assayml.errors import ConfigError, DataError
from assayml.features.transform import (
    CategoricalColumn,
    FeatureTransform,
    NumericColumn,
    TargetEncoding,
    label_key,
)

NUMERIC_TYPES = (ColumnType.float, ColumnType.int, ColumnType.bool)


def select_columns(columns: dict[str, ColumnSpec], cfg: FeaturesConfig, target: str) -> list[str]:
    """Input columns in declared order: ``include`` (default: all but target and free text)
    minus ``exclude``."""
    unknown = [c for c in [*cfg.include, *cfg.exclude, *cfg.numeric.log] if c not in columns]
    if unknown:
        raise ConfigError(f"features: columns not declared in data.columns: {', '.join(unknown)}")
    if target in cfg.include:
        raise ConfigError(f"features.include: the target '{target}' cannot be a feature")
    chosen = cfg.include or [
        name
        for name, spec in columns.items()
        if name != target and spec.dtype is not ColumnType.str
    ]
    selected = [name for name in columns if name in chosen and name not in cfg.exclude]
    if not selected:
        raise ConfigError("features: no input columns are left after include/exclude")
    return selected


def fit_transform(
    train: pd.DataFrame,
    columns: dict[str, ColumnSpec],
    cfg: FeaturesConfig,
    target: str,
    task: str,
    labels: Iterable[Any] = (),
) -> FeatureTransform:
    """Fit imputation, scaling and encodings on ``train``.

    Args:
        train: the validated training split.
        columns: the declared (or inferred) schema.
        cfg: the features config.
        target: the label column.
        task: binary, multiclass or regression.
        labels: every label seen in any split, so that class indices cover them all.
    """
    numeric, categorical = [], []
    for name in select_columns(columns, cfg, target):
        if columns[name].dtype in NUMERIC_TYPES:
            numeric.append(_fit_numeric(name, train[name], cfg, name in cfg.numeric.log))
        else:
            categorical.append(_fit_categorical(name, train[name], cfg))
    encoding = _fit_target(train[target], target, task, cfg.scale_target, labels)
    return FeatureTransform(numeric=numeric, categorical=categorical, target=encoding)


def _fit_numeric(name: str, series: pd.Series, cfg: FeaturesConfig, log: bool) -> NumericColumn:
    x = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if log:
        if np.nanmin(x) < 0:
            raise DataError(f"features.numeric.log: column '{name}' has negative values")
        x = np.log1p(x)
    observed = x[~np.isnan(x)]
    if observed.size == 0:
        raise DataError(f"column '{name}': every training value is missing")
    fill = {
        Impute.median: float(np.median(observed)),
        Impute.mean: float(np.mean(observed)),
        Impute.zero: 0.0,
        Impute.none: None,
    }[cfg.numeric.impute]
    x = np.where(np.isnan(x), fill if fill is not None else np.nan, x)
    center, scale = _scaling(x[~np.isnan(x)], cfg.numeric.scale)
    return NumericColumn(name=name, log=log, fill=fill, center=center, scale=scale)


def _scaling(x: np.ndarray, scale: Scale) -> tuple[float, float]:
    """(center, scale) as scikit-learn's StandardScaler / MinMaxScaler fit them; a constant
    column keeps scale 1, as they do."""
    if scale is Scale.standard:
        center, spread = float(x.mean()), float(x.std())
    elif scale is Scale.minmax:
        center, spread = float(x.min()), float(x.max() - x.min())
    else:
        return 0.0, 1.0
    return center, spread if spread > 0 else 1.0


def _fit_categorical(name: str, series: pd.Series, cfg: FeaturesConfig) -> CategoricalColumn:
    values = series.dropna().astype(str)
    if cfg.categorical.impute is CategoricalImpute.constant:
        fill = cfg.categorical.fill_value
    elif values.empty:
        raise DataError(f"column '{name}': every training value is missing")
    else:
        counts = values.value_counts()
        fill = str(min(counts[counts == counts.max()].index))  # ties: alphabetical first
    categories = sorted(set(values) | ({fill} if series.isna().any() else set()))
    return CategoricalColumn(
        name=name,
        fill=fill,
        categories=categories,
        handle_unknown=cfg.categorical.handle_unknown.name,
    )


def _fit_target(
    y: pd.Series, name: str, task: str, scale: bool, labels: Iterable[Any]
) -> TargetEncoding:
    if task == "regression":
        values = y.to_numpy(dtype=np.float64)
        std = float(values.std()) if scale else 1.0
        mean = float(values.mean()) if scale else 0.0
        return TargetEncoding(name=name, task=task, mean=mean, std=std if std > 0 else 1.0)
    keys = {label_key(v) for v in [*y.tolist(), *labels]}
    classes = sorted(keys, key=lambda k: (isinstance(k, str), k))
    if len(classes) < 2:
        raise DataError(f"target '{name}': a classification task needs two classes or more")
    if task == "binary" and len(classes) != 2:
        raise DataError(f"target '{name}': task binary but {len(classes)} classes: {classes}")
    return TargetEncoding(name=name, task=task, classes=classes)
