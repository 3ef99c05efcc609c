"""Resolve ``data.task``: as declared, or inferred from the target column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assayml.config.schema import ColumnType, DataConfig, Task
from assayml.errors import DataError

MAX_CLASSES = 100  # more distinct integer labels than this reads as regression


def resolve_task(cfg: DataConfig, target: pd.Series) -> Task:
    """The declared task, checked against the labels; or inferred when ``auto``."""
    distinct = target.nunique(dropna=True)
    task = cfg.task if cfg.task is not Task.auto else infer_task(cfg, target)
    if task is Task.binary and distinct != 2:
        raise DataError(f"target '{cfg.target}': task binary needs 2 classes, found {distinct}")
    if task is Task.multiclass and distinct < 2:
        raise DataError(f"target '{cfg.target}': a classification task needs 2 classes or more")
    if task is Task.regression and not pd.api.types.is_numeric_dtype(target):
        raise DataError(f"target '{cfg.target}': task regression needs a numeric target")
    return task


def infer_task(cfg: DataConfig, target: pd.Series) -> Task:
    """Float targets with non-integer values are regression; otherwise classification."""
    spec = cfg.columns.get(cfg.target)
    declared_float = spec is not None and spec.dtype is ColumnType.float
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    values = target.dropna()
    integral = numeric and bool(np.all(np.mod(values.to_numpy(dtype=np.float64), 1) == 0))
    distinct = values.nunique()
    if numeric and (declared_float or not integral or distinct > MAX_CLASSES):
        return Task.regression
    return Task.binary if distinct == 2 else Task.multiclass
