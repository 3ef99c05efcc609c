"""Data-quality insights for ``data.streaming``: the same kinds as insights.py, gathered a
record batch at a time so that no check holds the table.

Exact over every row: missing shares, constant columns, duplicate rows (one 64-bit hash
per row), monotone integer indexes, identifiers (hashes of the candidate columns' values,
dropped as soon as a batch shows a column repeating), high cardinality (distinct values
counted up to the limit) and class counts. From the seeded training sample: mixed types
and target leakage (its AUROC's sampling error is about 0.002 at 100,000 rows).
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


class StreamingInsights:
    """Accumulates what the checks need, one validated batch at a time."""

    def __init__(self, target: str, cfg) -> None:
        self.target, self.cfg, self.rows = target, cfg, 0
        self.missing: Counter[str] = Counter()
        self.values: dict[str, set] = {}  # distinct values, up to high_cardinality + 1
        self.row_hashes: list[np.ndarray] = []
        self.id_hashes: dict[str, list[np.ndarray]] | None = None  # candidate -> hashes
        self.counting: dict[str, int | None] = {}  # integral column -> last value (index)
        self.classes: Counter = Counter()
        self.identifiers: list[str] = []

    def add(self, frame: pd.DataFrame) -> None:
        if self.id_hashes is None:
            self._start(frame)
        self.rows += len(frame)
        self.missing.update({str(c): int(n) for c, n in frame.isna().sum().items()})
        cap = self.cfg.high_cardinality + 1
        for name, series in frame.items():
            seen = self.values.setdefault(str(name), set())
            if len(seen) < cap:
                seen.update(series.dropna().unique()[:cap].tolist())
        rows = frame.drop(columns=self.identifiers)
        self.row_hashes.append(pd.util.hash_pandas_object(rows, index=False).to_numpy())
        self._identifiers(frame)
        self.classes.update(frame[self.target].dropna().tolist())

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
                found += single._mixed(column, sample[column])
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
            return [Insight("id_like", [column], 1.0, f"'{column}' looks like a saved row index")]
        if self.rows < MIN_ID_ROWS:
            return []
        if column in self.counting:
            return [
                Insight(
                    "id_like",
                    [column],
                    1.0,
                    f"'{column}' counts up by one in every row: a row index, not a feature",
                )
            ]
        hashes = (self.id_hashes or {}).get(column)
        if not hashes:
            return []
        share = pd.Series(np.concatenate(hashes)).nunique() / self.rows
        if share < ID_UNIQUE_SHARE:
            return []
        return [
            Insight(
                "id_like",
                [column],
                round(float(share), 6),
                f"'{column}' is unique in {share:.1%} of the rows: an identifier lets a model "
                "memorise rows",
            )
        ]

    def _constant(self, column: str) -> list[Insight]:
        return single._constant(column, pd.Series(list(self.values[column]), dtype=object))

    def _missing(self, column: str) -> list[Insight]:
        share = self.missing[column] / self.rows if self.rows else 0.0
        if share <= self.cfg.high_missing:
            return []
        return [
            Insight(
                "high_missing",
                [column],
                round(share, 6),
                f"'{column}' is missing in {share:.1%} of the rows "
                f"(over {self.cfg.high_missing:.0%})",
            )
        ]

    def _cardinality(self, column: str) -> list[Insight]:
        limit = self.cfg.high_cardinality
        if len(self.values[column]) <= limit or column in (self.id_hashes or {}):
            return []
        return [
            Insight(
                "high_cardinality",
                [column],
                len(self.values[column]),
                f"'{column}' has more than {limit} categories: one-hot encoding makes as many "
                "inputs, most of them rare",
            )
        ]

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
                + (f" (ignoring {', '.join(self.identifiers)})" if self.identifiers else ""),
            )
        ]
