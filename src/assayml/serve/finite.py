"""Numbers the model cannot compute with, found before (inputs) and after (outputs) it runs.

A value can pass the schema and still break the model: 1e308 is a finite float64, but once
scaled by the feature transform and cast to the model's float32 input it is infinite, and
the network then answers NaN, which used to come back as a made-up class with null
probabilities. These checks name each such row, and its column, so the endpoint can
refuse it (422) and batch prediction can send it to the rejects file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assayml.features.transform import FeatureTransform


@dataclass(frozen=True)
class Problem:
    row: int  # position in the frame checked (0-based)
    column: str | None  # the input column at fault; None: the row as a whole
    value: Any  # the offending input value (None for a row-level problem)
    reason: str

    def text(self) -> str:
        """One line for a rejects file: ``column: reason (value)``."""
        return self.reason if self.column is None else f"{self.column}: {self.reason}"


def model_inputs(transform: FeatureTransform, frame: pd.DataFrame) -> np.ndarray:
    """``frame`` transformed, [rows, features] float32 (numeric features first), letting an
    overflow through: :func:`transform_overflows` looks for it, and the model then takes
    the same array (a request is transformed once)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return transform.transform(frame)


def transform_overflows(
    transform: FeatureTransform, frame: pd.DataFrame, x: np.ndarray | None = None
) -> list[Problem]:
    """Numeric inputs that are finite but whose transformed float32 model input is not.

    Args:
        transform: the model's fitted feature transform.
        frame: schema-valid rows (non-finite raw values are refused before this).
        x: ``frame`` already transformed (:func:`model_inputs`), if at hand.
    """
    x = model_inputs(transform, frame) if x is None else x
    numeric = x[:, : len(transform.numeric)]
    rows, columns = np.nonzero(~np.isfinite(numeric))
    problems = []
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        name = transform.numeric[column].name
        value = _scalar(frame[name].iloc[row])
        reason = f"{value!r} overflows the model's float32 input after the feature transform"
        problems.append(Problem(row, name, value, reason))
    return problems


def nonfinite_outputs(outputs: pd.DataFrame) -> list[Problem]:
    """Rows whose prediction columns hold NaN or infinity (the model overflowed inside)."""
    numeric = outputs.select_dtypes(include="number")
    bad = ~np.isfinite(numeric.to_numpy(dtype=np.float64)).all(axis=1)
    reason = "the model's output is not finite: the inputs lie far outside what it can handle"
    return [Problem(int(row), None, None, reason) for row in np.flatnonzero(bad)]


def nonfinite_inputs(frame: pd.DataFrame, columns: list[str]) -> list[Problem]:
    """Infinite numbers in ``columns`` (NaN is a missing value, which the schema governs)."""
    problems = []
    for name in columns:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64, na_value=0.0)
        for row in np.flatnonzero(np.isinf(values)).tolist():
            value = _scalar(frame[name].iloc[row])
            problems.append(Problem(row, name, value, f"{value!r} is not a finite number"))
    return problems


def boolean_numbers(frame: pd.DataFrame, columns: list[str]) -> list[Problem]:
    """Booleans given for numeric ``columns`` (pandas would read ``True`` as 1.0)."""
    problems = []
    for name in columns:
        series = frame[name]
        if pd.api.types.is_bool_dtype(series):
            mask = series.notna().to_numpy()
        elif series.dtype == object:
            mask = series.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        else:
            continue
        for row in np.flatnonzero(mask).tolist():
            value = _scalar(series.iloc[row])
            problems.append(Problem(row, name, value, f"{value!r} is a boolean, not a number"))
    return problems


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
