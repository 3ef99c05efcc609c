"""Prepare a Parquet file larger than memory.

The file is read in record batches (pyarrow); each batch is validated as the in-memory
path validates a whole table (errors name the file's row numbers), split row by row with a
seeded generator (one uniform draw a row, in file order: the same seed and file give the
same split), and appended to the split files. Stratification is by expectation only: each
row lands in train, val or test with the configured probabilities, so split sizes and class
shares vary by about their binomial spread (a few hundred rows in millions).

A seeded uniform sample of about ``data.sample_rows`` training rows (the rows whose draw
falls in the first part of the train interval) is written beside the splits
(``train_sample.parquet``): medians, the data profile, explanations and the monitoring
baseline read it where they need a table; counts, means, variances, ranges and categories
of the feature transform come from every row (features/streaming.py).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from assayml.config.schema import AssayConfig, FileFormat
from assayml.data.split import SPLITS
from assayml.errors import ConfigError, DataError

BATCH_ROWS = 65_536
# pyarrow's defaults pre-buffer whole row groups (and keep them in its pool): several
# hundred MB for a wide file; reading through a small buffer keeps memory to a batch.
READ_OPTIONS = {"pre_buffer": False, "buffer_size": 1 << 20}
SAMPLE_FILE = "train_sample.parquet"
COPY_CHUNK = 1 << 22


def parquet_batches(path: Path, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """The file's rows in batches, indexed by row number in the file."""
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path, **READ_OPTIONS)
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise DataError(f"{path}: cannot read as Parquet: {err}") from err
    import pyarrow as pa

    from assayml.data.sources import refuse_duplicate_columns

    refuse_duplicate_columns(list(handle.schema_arrow.names), str(path))

    offset, batches = 0, handle.iter_batches(BATCH_ROWS, columns=columns, use_threads=False)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"{path}: unreadable after row {offset}: {err}") from err
        if batch is None:
            return
        frame = batch.to_pandas()
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        yield frame


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise DataError(f"{path}: cannot read as Parquet: {err}") from err


@contextmanager
def local_copy(cfg: AssayConfig) -> Iterator[tuple[Path, str]]:
    """(a readable path to the configured Parquet version, the MD5 of its bytes). A
    workspace file is read in place; ``data.rev`` is streamed to a temporary file through
    DVC, hashed on the way."""
    data = cfg.data
    suffix = Path(data.path).suffix.lower()
    if data.format is FileFormat.csv or (data.format is FileFormat.auto and suffix == ".csv"):
        raise ConfigError(
            f"data.streaming reads Parquet; {data.path} is CSV (convert it once, e.g. with "
            "pyarrow.csv.open_csv and a ParquetWriter, or set data.streaming=false)"
        )
    if data.rev is None:
        path = Path(cfg.paths.root_dir) / data.path
        if not path.is_file():
            raise DataError(f"{data.path}: data file not found (data.path, relative to root)")
        from assayml.utils.io import md5_file

        yield path, md5_file(path)
        return
    import dvc.api

    digest = hashlib.md5()
    # Beside the outputs, not in $TMPDIR (often a small RAM disk): the file may be large.
    scratch_parent = Path(cfg.paths.prepared_dir).resolve().parent
    scratch_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".assay-data-", dir=scratch_parent) as scratch:
        copy = Path(scratch) / Path(data.path).name
        try:
            with (
                dvc.api.open(data.path, repo=cfg.paths.root_dir, rev=data.rev, mode="rb") as src,
                open(copy, "wb") as dst,
            ):
                while chunk := src.read(COPY_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
        except Exception as err:
            raise DataError(
                f"{data.path}@{data.rev}: cannot read this data version: {err}"
            ) from err
        yield copy, digest.hexdigest()


def batch_schema(cfg, first: pd.DataFrame):
    """The declared columns; without a declaration, inferred from the first batch and
    applied to every batch (a column's nulls may start later in the file: all nullable)."""
    from dataclasses import replace

    from assayml.data.schema import declared_columns

    columns = declared_columns(cfg, first)
    if cfg.columns:
        return columns
    return {k: replace(v, nullable=k != cfg.target) for k, v in columns.items()}


class Labels:
    """The distinct target values of every row (at most enough to tell classes from a
    numeric target): what the task is inferred and checked from."""

    def __init__(self, target: str) -> None:
        from assayml.data.task import MAX_CLASSES

        self.target, self.cap, self.seen = target, MAX_CLASSES + 1, set()
        self.dtype = None

    def add(self, frame: pd.DataFrame) -> None:
        column = frame[self.target]
        self.dtype = self.dtype or column.dtype
        if len(self.seen) <= self.cap:
            self.seen.update(column.dropna().unique().tolist())

    def distinct(self) -> pd.Series:
        return pd.Series(sorted(self.seen, key=str), dtype=self.dtype)


class SplitWriter:
    """The split files (and the train sample), appended batch by batch."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths, self.writers, self.rows = paths, {}, dict.fromkeys(paths, 0)
        self.schema = None

    def write(self, name: str, part: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if part.empty:
            return
        table = pa.Table.from_pandas(part, schema=self.schema, preserve_index=False)
        self.schema = self.schema or table.schema
        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self.paths[name], self.schema)
        self.writers[name].write_table(table)
        self.rows[name] += len(part)

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def close(self, empty: pd.DataFrame) -> None:
        """Close every file; a split no row fell into still gets a (valid, empty) file."""
        for name, path in self.paths.items():
            if name in self.writers:
                self.writers[name].close()
            else:
                empty.to_parquet(path, index=False)


def split_stream(
    batches: Iterator[pd.DataFrame], cfg: AssayConfig, total_rows: int, writer: SplitWriter
) -> dict[str, list[pd.DataFrame]]:
    """Assign every row of every batch to a split and write it; returns per split the
    sampled rows (train: the train sample, also written; val/test: for the profile)."""
    fractions = cfg.data.split
    bounds = np.cumsum([fractions.train, fractions.val])
    keep = {
        name: min(1.0, cfg.data.sample_rows / max(1.0, total_rows * share))
        for name, share in zip(
            SPLITS, (fractions.train, fractions.val, fractions.test), strict=True
        )
    }
    rng = np.random.default_rng(cfg.seed)
    samples: dict[str, list[pd.DataFrame]] = {name: [] for name in SPLITS}
    for frame in batches:
        u = rng.random(len(frame))
        which = np.searchsorted(bounds, u, side="right")  # 0 train, 1 val, 2 test
        starts = np.concatenate([[0.0], bounds])
        widths = np.diff(np.concatenate([starts, [1.0]]))
        for index, name in enumerate(SPLITS):
            mine = which == index
            part = frame[mine]
            writer.write(name, part)
            # Position within the split's interval, uniform in [0, 1): a seeded sample.
            position = (u[mine] - starts[index]) / widths[index]
            sampled = part[position < keep[name]]
            samples[name].append(sampled)
            if name == "train":
                writer.write("sample", sampled)
    return samples


def sample_frames(samples: dict[str, list[pd.DataFrame]], empty: pd.DataFrame):
    return {
        name: pd.concat(parts).reset_index(drop=True) if parts else empty
        for name, parts in samples.items()
    }
