"""Read the configured data version and record the content hash of exactly what was read.

A file source is read from the workspace, or, with ``data.rev``, as it was at that git
revision through ``dvc.api.open`` (DVC's cache or remote for DVC-tracked files, git for
git-tracked ones). The hash is the MD5 of the bytes read, which is what DVC 3 records for
a file in ``.dvc`` files and ``dvc.lock``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from assayml.config.schema import DataConfig, DataSource, FileFormat
from assayml.errors import DataError


@dataclass(frozen=True)
class RawData:
    frame: pd.DataFrame
    md5: str  # of the bytes read (file) or of the canonical CSV form (built-in)
    origin: dict[str, str | None]  # source, name, path, rev: what to record in lineage


def load_raw(cfg: DataConfig, root_dir: str | Path = ".") -> RawData:
    """Load the table ``cfg`` names; raises :class:`DataError` naming the file on failure."""
    if cfg.source is DataSource.builtin:
        from assayml.data.builtin import load_builtin

        frame = load_builtin(cfg)
        origin = {"source": "builtin", "name": cfg.name, "path": None, "rev": None}
        return RawData(frame, canonical_md5(frame), origin)
    content = read_bytes(cfg.path, cfg.rev, root_dir)
    frame = parse_table(content, cfg.path, cfg.format)
    origin = {"source": "file", "name": cfg.name, "path": cfg.path, "rev": cfg.rev}
    if cfg.rev is not None:
        from assayml.records import resolve_rev

        origin["rev_commit"] = resolve_rev(root_dir, cfg.rev)
    return RawData(frame, hashlib.md5(content).hexdigest(), origin)


def read_bytes(path: str, rev: str | None, root_dir: str | Path = ".") -> bytes:
    """The file's bytes in the workspace, or at git revision ``rev`` through DVC."""
    if rev is None:
        full = Path(root_dir) / path
        if not full.is_file():
            raise DataError(f"{path}: data file not found (data.path, relative to {root_dir})")
        return full.read_bytes()
    import dvc.api
    from dvc.exceptions import DvcException
    from scmrepo.exceptions import SCMError

    try:
        with dvc.api.open(path, repo=str(root_dir), rev=rev, mode="rb") as handle:
            return handle.read()
    except (DvcException, SCMError, FileNotFoundError, OSError) as err:
        raise DataError(f"{path}@{rev}: cannot read this data version: {err}") from err


def parse_table(content: bytes, path: str, fmt: FileFormat) -> pd.DataFrame:
    """Parse CSV or Parquet bytes; the format comes from ``fmt`` or the suffix."""
    if fmt is FileFormat.auto:
        suffix = Path(path).suffix.lower()
        fmt = FileFormat.parquet if suffix in (".parquet", ".pq") else FileFormat.csv
    try:
        if fmt is FileFormat.parquet:
            refuse_duplicate_columns(_parquet_names(content), path)
            return pd.read_parquet(io.BytesIO(content))
        refuse_duplicate_columns(_csv_header(content), path)
        return pd.read_csv(io.BytesIO(content))
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except DataError:
        raise
    except Exception as err:  # parsers raise many classes; all mean unreadable input
        raise DataError(f"{path}: cannot parse as {fmt.name}: {err}") from err


def refuse_duplicate_columns(names: list[str], path: str) -> None:
    """pandas renames a repeated CSV header (``a,a`` -> ``a``, ``a.1``) without a word, and
    which of the two is the real ``a`` is anyone's guess: a repeated name is bad input.

    Raises:
        DataError: naming the repeated columns and their 0-based positions.
    """
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        seen.setdefault(name, []).append(position)
    repeated = {name: places for name, places in seen.items() if len(places) > 1}
    if repeated:
        shown = "; ".join(
            f"'{name}' at columns {', '.join(map(str, places))}"
            for name, places in repeated.items()
        )
        raise DataError(f"{path}: repeated column names ({shown}): rename them so each is unique")


def _csv_header(content: bytes) -> list[str]:
    """The header row as the CSV reader splits it (quotes and all)."""
    import csv

    first = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", errors="replace", newline="")
    return next(csv.reader(first), [])


def _parquet_names(content: bytes) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(io.BytesIO(content)).names)


def canonical_md5(frame: pd.DataFrame) -> str:
    """MD5 of a table's canonical CSV form: stable across runs, pandas and pyarrow versions."""
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.17g")
    return hashlib.md5(text.encode()).hexdigest()
