"""A new version of the raw file without the forgotten rows, written atomically.

A CSV keeps every other record's bytes as they were (its quoting, number formats, line
ends): re-serialising through pandas would change rows nobody asked to change and make
the new version's diff unreadable. So the file is split into records with the csv module
(records may span lines inside quotes) and the kept records' lines are copied verbatim.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from assayml.errors import DataError


def csv_records(text: str) -> tuple[list[str], list[list[str]]]:
    """(the header's lines, each data record's lines). Pandas skips blank lines (empty or
    only spaces), so they are no record: each stays with the record before it (and goes
    only with it); blank lines before the header stay with the header."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(iter(lines))
    spans: list[list[str]] = []
    leading: list[str] = []
    start = 0
    for fields in reader:
        end = reader.line_num
        blank = not any(f.strip() for f in fields)
        if blank and not spans:
            leading += lines[start:end]
        elif blank:
            spans[-1] = spans[-1] + lines[start:end]
        else:
            spans.append((leading if not spans else []) + lines[start:end])
        start = end
    if not spans:
        raise DataError("the file holds no header")
    return spans[0], spans[1:]


def without_rows_csv(content: bytes, drop: np.ndarray, where: str) -> bytes:
    text = content.decode("utf-8")
    header, records = csv_records(text)
    if len(records) != len(drop):
        raise DataError(
            f"{where}: {len(records)} CSV records but {len(drop)} table rows; the file "
            "cannot be rewritten record by record (edit it by hand, then `dvc add` it)"
        )
    kept = [line for record, gone in zip(records, drop, strict=True) if not gone for line in record]
    return "".join(header + kept).encode("utf-8")


def without_rows_parquet(content: bytes, drop: np.ndarray) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(content))
    kept = table.filter(pa.array(~drop))
    buffer = io.BytesIO()
    pq.write_table(kept, buffer)
    return buffer.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file, then rename (utils.io): a killed run leaves the old file whole."""
    from assayml.utils.io import atomic_outputs

    with atomic_outputs() as out:
        out.write_bytes(path, data)


def rewrite_without(path: Path, fmt: str, drop: np.ndarray) -> bytes:
    """The file's new content (not yet written) without the rows ``drop`` marks."""
    content = path.read_bytes()
    if fmt == "parquet":
        return without_rows_parquet(content, drop)
    return without_rows_csv(content, drop, str(path))
