"""Monitoring a Parquet file larger than memory.

The checks that look at one column (data quality, drift, the report's histograms) get a
:class:`ParquetColumns`, which reads one column when asked; the checks that need whole rows
(schema validation, predictions) run over record batches, keeping only the valid rows'
numbers and predictions; bias drift gets the sensitive columns alone, and attribution drift
reads back only the rows it explains. Memory is that of the widest column and one batch, not
the table. Results equal the in-memory path's (a test runs both on the same file).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from assayml.data.streaming import READ_OPTIONS
from assayml.errors import DataError

BATCH_ROWS = 65_536


class ParquetColumns:
    """The columns of a Parquet file, read one at a time: ``frame[name]`` is a Series of
    every row (not kept), ``len(frame)`` the row count, ``frame.columns`` the names."""

    max_readers = 2  # columns held at once by the drift tests' threads

    def __init__(self, path: Path, drop: tuple[str, ...] = ()) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        try:
            self.file = pq.ParquetFile(self.path, **READ_OPTIONS)
        except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
            raise DataError(f"{path}: cannot read as Parquet: {err}") from err
        self.columns = pd.Index([n for n in self.file.schema_arrow.names if n not in drop])
        self.rows = self.file.metadata.num_rows
        self._lock = threading.Lock()  # drift tests read columns from several threads

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self.file.schema_arrow.names:
            raise KeyError(name)
        return self.read([name])[name]

    def read(self, columns: list[str]) -> pd.DataFrame:
        with self._lock:
            return self.file.read(columns=columns).to_pandas()

    def batches(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        offset = 0
        batches = self.file.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False)
        for batch in batches:
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield frame

    def take(self, rows: np.ndarray, columns: list[str]) -> pd.DataFrame:
        """The rows numbered ``rows`` (sorted), read a batch at a time."""
        parts = []
        for frame in self.batches(columns):
            start, stop = frame.index[0], frame.index[-1] + 1
            mine = rows[(rows >= start) & (rows < stop)]
            if mine.size:
                parts.append(frame.loc[mine])
        return pd.concat(parts) if parts else pd.DataFrame(columns=columns)


@dataclass
class Scanned:
    keep: np.ndarray  # row numbers that pass the model's schema
    predicted: np.ndarray  # the model's prediction for each of them
    rejected: int
    probabilities: np.ndarray | None = None  # [rows, classes]; None for regression


def scan_rows(frame: ParquetColumns, deployed, threshold: float) -> Scanned:
    """Validate every row against the model's schema and predict the valid ones, a batch
    at a time."""
    from assayml.progress import track

    inputs = deployed.schema["inputs"]
    keep, predicted, probabilities, rejected = [], [], [], 0
    batches = track(frame.batches(inputs), "monitor: predictions", -(-len(frame) // BATCH_ROWS))
    for batch in batches:
        valid, bad = deployed.validate(batch)
        rejected += len(bad)
        if len(valid):
            keep.append(valid.index.to_numpy())
            pred = deployed.predict(valid, threshold)
            predicted.append(pred.predicted)
            probabilities.append(pred.probabilities)
    if not keep:
        return Scanned(np.zeros(0, dtype=np.int64), np.zeros(0), rejected)
    # the same probabilities as the in-memory path, so quality metrics (AUROC) agree
    stacked = None if any(p is None for p in probabilities) else np.concatenate(probabilities)
    return Scanned(np.concatenate(keep), np.concatenate(predicted), rejected, stacked)
