"""The fitted feature transform: JSON state and the one code path that applies it.

Training, evaluation, batch prediction, serving and monitoring all call
:meth:`FeatureTransform.transform` on a validated raw table, so a row is transformed the same
way everywhere. The state is plain JSON (medians, means, scales, category lists): safe to
load, readable by an auditor, and independent of scikit-learn's private attribute layout,
which is why we apply it with NumPy rather than persisting fitted scikit-learn objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.errors import ArtifactError, DataError
from assayml.utils.groups import value_name

FORMAT_VERSION = 1


@dataclass
class NumericColumn:
    name: str
    log: bool  # log1p before imputation and scaling
    fill: float | None  # imputation value; None: a missing value is an error
    center: float  # subtracted after imputation
    scale: float  # divided by after centring (never 0)


@dataclass
class CategoricalColumn:
    name: str
    fill: str | None  # imputation category; None: a missing value is an error
    categories: list[str]  # one output column each, in this order
    handle_unknown: str  # "ignore" (all zeros) or "error"


@dataclass
class TargetEncoding:
    name: str
    task: str  # binary | multiclass | regression
    classes: list[Any] = field(default_factory=list)  # classification: label of each index
    mean: float = 0.0  # regression: encoded = (y - mean) / std
    std: float = 1.0


@dataclass
class FeatureTransform:
    numeric: list[NumericColumn]
    categorical: list[CategoricalColumn]
    target: TargetEncoding

    @property
    def input_columns(self) -> list[str]:
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns, in order: numeric, then ``column=category``."""
        names = [c.name for c in self.numeric]
        for col in self.categorical:
            names += [f"{col.name}={cat}" for cat in col.categories]
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw rows -> model inputs, shape [rows, len(feature_names)], float32."""
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise DataError(f"input is missing feature columns: {', '.join(missing)}")
        blocks = [_numeric_block(self.numeric, frame)] if self.numeric else []
        blocks += [_one_hot(col, frame[col.name]) for col in self.categorical]
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.column_stack(blocks).astype(np.float32, copy=False)

    def encode_target(self, values: pd.Series) -> np.ndarray:
        """Labels -> class indices (int64), or regression targets -> standardised float32."""
        if self.target.task == "regression":
            y = values.to_numpy(dtype=np.float64)
            return ((y - self.target.mean) / self.target.std).astype(np.float32)
        # Typed names: a label file read as text ("1") or floats (1.0) finds class 1.
        index = {value_name(label): i for i, label in enumerate(self.target.classes)}
        keys = [value_name(v) for v in values]
        unknown = [k for k in keys if k not in index]
        if unknown:
            raise DataError(f"target '{self.target.name}': unknown labels {sorted(set(unknown))}")
        return np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))

    def decode_regression(self, encoded: np.ndarray) -> np.ndarray:
        """Standardised regression outputs -> the target's units."""
        return encoded * self.target.std + self.target.mean

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **asdict(self)}

    def save(self, path: str | Path) -> None:
        from assayml.utils.io import write_json_atomic

        write_json_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FeatureTransform:
        if state.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"feature transform format {state.get('format_version')!r} "
                f"is not the supported version {FORMAT_VERSION}"
            )
        return cls(
            numeric=[NumericColumn(**c) for c in state["numeric"]],
            categorical=[CategoricalColumn(**c) for c in state["categorical"]],
            target=TargetEncoding(**state["target"]),
        )

    @classmethod
    def load(cls, path: str | Path) -> FeatureTransform:
        """Read a saved transform; a missing or malformed file is an :class:`ArtifactError`."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ArtifactError(f"{path}: no feature transform (run `assay features`)") from None
        except (ValueError, KeyError, TypeError) as err:
            raise ArtifactError(f"{path}: unreadable feature transform: {err}") from err


def _numeric_block(columns: list[NumericColumn], frame: pd.DataFrame) -> np.ndarray:
    """The numeric features, [rows, len(columns)] float64.

    Columns held as NumPy numbers (what a parsed table and a served request hold) are
    transformed together: a column at a time, pandas' per-call overhead was most of a
    served request (4 of 5 ms for one row of 30 columns), for arithmetic that is the same
    per value either way. Any other column (text, pandas' nullable types) takes the
    column-at-a-time path, which ``to_numeric`` converts and refuses value by value.
    """
    table = frame[[col.name for col in columns]]
    if not all(isinstance(t, np.dtype) and t.kind in "biuf" for t in table.dtypes):
        return np.column_stack([_numeric(col, frame[col.name]) for col in columns])
    x = table.to_numpy(dtype=np.float64, copy=True)  # ours: the log is taken in place
    log = np.array([col.log for col in columns])
    negative, missing = (x < 0) & log, np.isnan(x)
    unfilled = np.array([col.fill is None for col in columns])
    refused = np.flatnonzero(negative.any(axis=0) | (missing.any(axis=0) & unfilled))
    if len(refused):  # the first column _numeric would refuse, and its reason
        j = int(refused[0])
        name, negative_rows = columns[j].name, np.flatnonzero(negative[:, j])
        if len(negative_rows):
            raise DataError(
                f"column '{name}': negative value at row {int(negative_rows[0])} cannot be logged"
            )
        row = int(np.flatnonzero(missing[:, j])[0])
        raise DataError(f"column '{name}': missing value at row {row} and no imputation")
    if log.any():
        x[:, log] = np.log1p(x[:, log])
    fills = np.array([np.nan if col.fill is None else col.fill for col in columns])
    x = np.where(missing, fills, x)
    centers = np.array([col.center for col in columns], dtype=np.float64)
    scales = np.array([col.scale for col in columns], dtype=np.float64)
    return (x - centers) / scales


def _numeric(col: NumericColumn, series: pd.Series) -> np.ndarray:
    try:
        x = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as err:
        raise DataError(f"column '{col.name}': non-numeric value ({err})") from None
    if col.log:
        if np.any(x < 0):
            row = int(np.flatnonzero(x < 0)[0])
            raise DataError(f"column '{col.name}': negative value at row {row} cannot be logged")
        x = np.log1p(x)
    missing = np.isnan(x)
    if missing.any():
        if col.fill is None:
            row = int(np.flatnonzero(missing)[0])
            raise DataError(f"column '{col.name}': missing value at row {row} and no imputation")
        x = np.where(missing, col.fill, x)
    return (x - col.center) / col.scale


def _one_hot(col: CategoricalColumn, series: pd.Series) -> np.ndarray:
    missing = series.isna().to_numpy()
    if missing.any() and col.fill is None:
        raise DataError(
            f"column '{col.name}': missing value at row {int(np.flatnonzero(missing)[0])}"
        )
    values = np.where(missing, col.fill, series.astype(str).to_numpy(dtype=object))
    codes = pd.Index(col.categories).get_indexer(values)  # -1: unknown
    if col.handle_unknown == "error" and np.any(codes < 0):
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError(f"column '{col.name}': unknown category {values[row]!r} at row {row}")
    out = np.zeros((len(values), len(col.categories)), dtype=np.float64)
    known = codes >= 0
    out[np.flatnonzero(known), codes[known]] = 1.0
    return out


def label_key(value: Any) -> Any:
    """Labels compare by value across int/float/str spellings of the same class."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return str(value)
