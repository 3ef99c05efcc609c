"""Fit the feature transform over a training split read in batches, and write transformed
splits without holding them.

Means and variances are merged batch by batch (Chan et al.'s pairwise update, in float64),
so they equal the in-memory fit up to rounding; ranges, missing counts, category counts and
labels are exact. A median cannot be merged from batches: ``impute=median`` takes it from
the seeded train sample (``train_sample.parquet``, about ``data.sample_rows`` rows; exact
when the sample holds the whole split). The result is the same :class:`FeatureTransform`
(JSON) the in-memory path fits.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import CategoricalImpute, ColumnSpec, FeaturesConfig, Impute, Scale
from assayml.errors import DataError
from assayml.features.fit import NUMERIC_TYPES, _fit_target, select_columns
from assayml.features.transform import (
    CategoricalColumn,
    FeatureTransform,
    NumericColumn,
    TargetEncoding,
)


@dataclass
class Moments:
    """Count, mean, sum of squared deviations, min and max of the values seen so far."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = np.inf
    high: float = -np.inf

    def add(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        n, mean = x.size, float(x.mean())
        self.merge(n, mean, float(((x - mean) ** 2).sum()))
        self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))

    def merge(self, n: int, mean: float, m2: float) -> None:
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.n * n / total
        self.n = total

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.n)) if self.n else 0.0


@dataclass
class NumericStats:
    log: bool
    observed: Moments
    missing: int = 0


def fit_streaming(
    batches: Iterable[pd.DataFrame],
    sample: pd.DataFrame,
    columns: dict[str, ColumnSpec],
    cfg: FeaturesConfig,
    target: str,
    task: str,
    labels: Iterable[Any],
) -> FeatureTransform:
    """The transform ``fit_transform`` would fit on the concatenated ``batches``."""
    selected = select_columns(columns, cfg, target)
    numeric = {
        n: NumericStats(n in cfg.numeric.log, Moments())
        for n in selected
        if columns[n].dtype in NUMERIC_TYPES
    }
    categorical = {n: Counter() for n in selected if n not in numeric}
    has_missing = dict.fromkeys(categorical, False)
    y_moments = Moments()
    for frame in batches:
        for name, stats in numeric.items():
            x = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            if stats.log:
                if np.nanmin(x, initial=0.0) < 0:
                    raise DataError(f"features.numeric.log: column '{name}' has negative values")
                x = np.log1p(x)
            missing = np.isnan(x)
            stats.missing += int(missing.sum())
            stats.observed.add(x[~missing])
        for name, counts in categorical.items():
            series = frame[name]
            has_missing[name] |= bool(series.isna().any())
            counts.update(series.dropna().astype(str).value_counts().to_dict())
        if task == "regression":
            y_moments.add(frame[target].to_numpy(dtype=np.float64))
    fitted = [_numeric(name, stats, sample[name], cfg) for name, stats in numeric.items()]
    encoded = [
        _categorical(name, counts, has_missing[name], cfg) for name, counts in categorical.items()
    ]
    return FeatureTransform(fitted, encoded, _target(target, task, cfg, y_moments, labels))


def _numeric(name: str, stats: NumericStats, sample: pd.Series, cfg: FeaturesConfig):
    seen = stats.observed
    if seen.n == 0:
        raise DataError(f"column '{name}': every training value is missing")
    if cfg.numeric.impute is Impute.median:
        x = sample.to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.log1p(x) if stats.log else x
        if np.isnan(x).all():
            raise DataError(
                f"column '{name}': no value among the {len(x)} sampled training rows, where "
                "impute=median takes its median from; raise data.sample_rows or set "
                "features.numeric.impute=mean"
            )
        fill = float(np.median(x[~np.isnan(x)]))
    else:
        fill = {Impute.mean: seen.mean, Impute.zero: 0.0, Impute.none: None}[cfg.numeric.impute]
    after = Moments(seen.n, seen.mean, seen.m2, seen.low, seen.high)
    if fill is not None and stats.missing:
        after.merge(stats.missing, fill, 0.0)
        after.low, after.high = min(after.low, fill), max(after.high, fill)
    if cfg.numeric.scale is Scale.standard:
        center, spread = after.mean, after.std
    elif cfg.numeric.scale is Scale.minmax:
        center, spread = after.low, after.high - after.low
    else:
        center, spread = 0.0, 1.0
    spread = spread if spread > 0 else 1.0
    return NumericColumn(name=name, log=stats.log, fill=fill, center=center, scale=spread)


def _categorical(name: str, counts: Counter, missing: bool, cfg: FeaturesConfig):
    if cfg.categorical.impute is CategoricalImpute.constant:
        fill = cfg.categorical.fill_value
    elif not counts:
        raise DataError(f"column '{name}': every training value is missing")
    else:
        top = max(counts.values())
        fill = min(k for k, v in counts.items() if v == top)  # ties: alphabetical first
    return CategoricalColumn(
        name=name,
        fill=fill,
        categories=sorted(set(counts) | ({fill} if missing else set())),
        handle_unknown=cfg.categorical.handle_unknown.name,
    )


def _target(name, task, cfg: FeaturesConfig, y: Moments, labels) -> TargetEncoding:
    if task != "regression":
        return _fit_target(pd.Series([], dtype=object), name, task, False, labels)
    if not cfg.scale_target:
        return TargetEncoding(name=name, task=task, mean=0.0, std=1.0)
    return TargetEncoding(name=name, task=task, mean=y.mean, std=y.std if y.std > 0 else 1.0)


def write_split(
    path: Path, transform: FeatureTransform, batches: Iterator[pd.DataFrame], rows: int
) -> None:
    """``{split}.safetensors`` (x float32 [rows, features], y) written a batch at a time:
    the header is known from the row count, x streams to disk, y (small) follows it."""
    width = len(transform.feature_names)
    y_dtype = "F32" if transform.target.task == "regression" else "I64"
    x_bytes, y_bytes = rows * width * 4, rows * (4 if y_dtype == "F32" else 8)
    header = {
        "x": {"dtype": "F32", "shape": [rows, width], "data_offsets": [0, x_bytes]},
        "y": {"dtype": y_dtype, "shape": [rows], "data_offsets": [x_bytes, x_bytes + y_bytes]},
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes
    written, ys = 0, []
    with open(path, "wb") as handle:
        handle.write(len(text).to_bytes(8, "little") + text)
        for frame in batches:
            handle.write(np.ascontiguousarray(transform.transform(frame)).tobytes())
            ys.append(transform.encode_target(frame[transform.target.name]))
            written += len(frame)
        if written != rows:
            raise DataError(f"{path}: {written} rows transformed, the split has {rows}")
        handle.write(np.concatenate(ys).tobytes() if ys else b"")


def split_labels(batches: Iterable[pd.DataFrame], target: str) -> list[Any]:
    """Every distinct label of a split, read a batch at a time."""
    seen: set = set()
    for frame in batches:
        seen.update(frame[target].dropna().unique().tolist())
    return list(seen)
