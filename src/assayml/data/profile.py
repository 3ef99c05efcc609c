"""``profile.json``: row counts, per-column summaries and content hashes of a prepared data set."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TOP_CATEGORIES = 20  # categories listed per categorical column


def profile_splits(splits: dict[str, pd.DataFrame], target: str, task: str) -> dict[str, Any]:
    """Summaries of every split: rows, and per column type, missing values and statistics."""
    return {
        "target": target,
        "task": task,
        "rows": {name: len(frame) for name, frame in splits.items()},
        "splits": {name: summarise(frame) for name, frame in splits.items()},
    }


def summarise(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per column: dtype, missing count, and numeric statistics or category counts."""
    return {str(name): summarise_column(series) for name, series in frame.items()}


def summarise_column(series: pd.Series) -> dict[str, Any]:
    summary: dict[str, Any] = {"dtype": str(series.dtype), "missing": int(series.isna().sum())}
    values = series.dropna()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = values.to_numpy(dtype=np.float64)
        if numbers.size:
            summary.update(
                min=float(numbers.min()),
                max=float(numbers.max()),
                mean=float(numbers.mean()),
                std=float(numbers.std(ddof=1)) if numbers.size > 1 else 0.0,
                quantiles={
                    q: float(np.quantile(numbers, float(q)))
                    for q in ("0.05", "0.25", "0.5", "0.75", "0.95")
                },
            )
    else:
        counts = values.astype(str).value_counts().sort_index(kind="stable")
        summary["distinct"] = int(counts.size)
        top = counts.sort_values(ascending=False, kind="stable").head(TOP_CATEGORIES)
        summary["counts"] = {str(k): int(v) for k, v in top.items()}
    return summary
