"""Data-quality insights for ``data.streaming``: the same kinds as insights.py, gathered a
record batch at a time so that no check holds the table.

Exact over every row: missing shares, constant columns, duplicate rows (one 64-bit hash
per row), monotone integer indexes, identifiers (hashes of the candidate columns' values,
dropped as soon as a batch shows a column repeating), high cardinality (distinct values
counted up to 100,000), mixed types and class counts. From the seeded training sample:
target leakage (its AUROC's sampling error is about 0.003 at 100,000 rows).
Conflicting labels among duplicate rows are not counted here (they need the rows grouped),
and duplicates are compared without the columns that look like identifiers in the first
batch (in memory: without the id_like columns found).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from assayml.data import insights as single
from assayml.data.insights import ID_UNIQUE_SHARE, MIN_ID_ROWS, UNNAMED, Insight
from assayml.data.task import MAX_CLASSES

DISTINCT = 100_000  # distinct values of a text column counted exactly; past it, "more than"


class StreamingInsights:
    """Accumulates what the checks need, one validated batch at a time."""

    def __init__(self, target: str, cfg) -> None:
        self.target, self.cfg, self.rows = target, cfg, 0
        self.missing: Counter[str] = Counter()
        self.values: dict[str, set] = {}  # distinct values: text up to DISTINCT, numbers 2
        self.row_hashes: list[np.ndarray] = []
        self.id_hashes: dict[str, list[np.ndarray]] | None = None  # candidate -> hashes
        self.counting: dict[str, int | None] = {}  # integral column -> last value (index)
        self.classes: Counter = Counter()
        self.identifiers: list[str] = []
        self.texts: dict[str, list] = {}  # text column -> [numbers, present, examples]
        self.extent: dict[str, tuple[float, float]] = {}  # whole-number candidates: min, max

    def add(self, frame: pd.DataFrame) -> None:
        if self.id_hashes is None:
            self._start(frame)
        self.rows += len(frame)
        self.missing.update({str(c): int(n) for c, n in frame.isna().sum().items()})
        for name, series in frame.items():
            seen = self.values.setdefault(str(name), set())
            numeric = pd.api.types.is_numeric_dtype(series)
            cap = 2 if numeric and not pd.api.types.is_bool_dtype(series) else DISTINCT
            if len(seen) < cap:
                seen.update(series.dropna().unique()[:cap].tolist())
        rows = frame.drop(columns=self.identifiers)
        self._texts(frame)
        self.row_hashes.append(pd.util.hash_pandas_object(rows, index=False).to_numpy())
        self._identifiers(frame)
        if len(self.classes) <= MAX_CLASSES:  # past that a numeric target is no classification
            self.classes.update(frame[self.target].dropna().tolist())

    def _texts(self, frame: pd.DataFrame) -> None:
        for name, series in frame.items():
            if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                continue
            numbers, total, examples = single.text_numbers(series)
            seen = self.texts.setdefault(str(name), [0, 0, []])
            seen[0] += numbers
            seen[1] += total
            seen[2] += [e for e in examples if e not in seen[2]][: 3 - len(seen[2])]

    def _start(self, frame: pd.DataFrame) -> None:
        self.id_hashes = {}
        for name, series in frame.items():
            column = str(name)
            if column == self.target or UNNAMED.match(column):
                continue
            integral = single._integral(series)
            text = not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
            if integral is not None or text:
                self.id_hashes[column] = []
            if integral is not None and len(integral):
                self.extent[column] = (float(integral.min()), float(integral.max()))
            if integral is not None and not series.isna().any():
                self.counting[column] = None
        # Duplicate rows are compared without identifiers; streamed, those are the columns
        # that look like one in the first batch (decided before any row is hashed).
        first = frame.drop(columns=[self.target])
        self.identifiers = [str(c) for c in first.columns if UNNAMED.match(str(c))] + [
            c for c in {*self.id_hashes, *self.counting} if single._id_like(c, frame[c], len(frame))
        ]

    def _identifiers(self, frame: pd.DataFrame) -> None:
        for column in list(self.id_hashes):
            series = frame[column]
            if column in self.extent and series.notna().any():
                low, high = self.extent[column]
                values = series.dropna().to_numpy(dtype=np.float64)
                self.extent[column] = (min(low, values.min()), max(high, values.max()))
            if series.nunique(dropna=True) < ID_UNIQUE_SHARE * len(series):
                del self.id_hashes[column]  # repeats within a batch: no identifier
                continue
            self.id_hashes[column].append(pd.util.hash_pandas_object(series, index=False))
        for column in list(self.counting):
            values = single._integral(frame[column])
            last = self.counting[column]
            steps = np.diff(values) if values is not None and len(values) == len(frame) else None
            joined = last is None or (values is not None and values[0] == last + 1)
            if steps is None or not joined or not np.all(steps == 1):
                del self.counting[column]
            else:
                self.counting[column] = int(values[-1])

    def finish(self, sample: pd.DataFrame, task: str) -> list[Insight]:
        """Every finding, from what was accumulated and the training ``sample``."""
        found: list[Insight] = []
        for column in self.values:
            if column != self.target:
                found += self._id_like(column)
                found += single.mixed_types(column, *self.texts.get(column, [0, 0, []]))
            found += self._constant(column)
            found += self._missing(column)
            if column != self.target and not pd.api.types.is_numeric_dtype(sample[column]):
                found += self._cardinality(column)
        found += self._duplicates()
        if task != "regression":
            counts = pd.Series(self.classes)
            found += single.imbalance(counts, self.target, self.cfg.imbalance_ratio)
        return found

    def _id_like(self, column: str) -> list[Insight]:
        if UNNAMED.match(column):
            return [single.saved_index(column)]
        if self.rows < MIN_ID_ROWS:
            return []
        if column in self.counting:
            return [single.counting_up(column)]
        hashes = (self.id_hashes or {}).get(column)
        if not hashes:
            return []
        if column in self.extent and not self._numbered(column):
            return []
        share = pd.Series(np.concatenate(hashes)).nunique() / self.rows
        return [single.unique_per_row(column, share)] if share >= ID_UNIQUE_SHARE else []

    def _numbered(self, column: str) -> bool:
        low, high = self.extent[column]
        return single.looks_numbered(column, np.array([low, high]), self.rows)

    def _constant(self, column: str) -> list[Insight]:
        return single._constant(column, pd.Series(list(self.values[column]), dtype=object))

    def _missing(self, column: str) -> list[Insight]:
        share = self.missing[column] / self.rows if self.rows else 0.0
        return single.missing_share(column, share, self.cfg.high_missing)

    def _cardinality(self, column: str) -> list[Insight]:
        if column in (self.id_hashes or {}) and self._id_like(column):
            return []  # id_like says it
        distinct = len(self.values[column])
        more = distinct >= DISTINCT
        return single.many_categories(column, distinct + more, self.cfg.high_cardinality, more)

    def _duplicates(self) -> list[Insight]:
        if not self.row_hashes:
            return []
        hashes = np.concatenate(self.row_hashes)
        count = int(pd.Series(hashes).duplicated().sum())
        if not count:
            return []
        return [
            Insight(
                "duplicate_rows",
                [],
                count,
                f"{count} rows ({count / len(hashes):.1%}) repeat an earlier row exactly"
                + (
                    f" (ignoring {', '.join(sorted(self.identifiers))})" if self.identifiers else ""
                ),
            )
        ]
