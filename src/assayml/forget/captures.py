"""Captured requests (``assay serve --capture``) that hold the forgotten rows: found by
applying the same request to each file's inputs, and rewritten without them.

Stop the server (or let it rotate to a new file) first: a file the server is appending to
could gain records between the read and the rename.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from assayml.errors import BadInputError
from assayml.forget.rewrite import write_atomic
from assayml.forget.select import Selection

PATTERNS = ("capture-*.jsonl", "capture-*.parquet")


@dataclass
class CaptureHit:
    path: str
    records: int  # records that held forgotten rows
    total: int
    matched_by: str | None = None  # keys | where | values (the captured inputs' values)
    error: str | None = None  # why the request could not be applied to this file

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "records": self.records,
            "total": self.total,
            "matched_by": self.matched_by,
            "error": self.error,
        }


def capture_files(directory: Path) -> list[Path]:
    return sorted({p for pattern in PATTERNS for p in directory.rglob(pattern)})


def jsonl_inputs(path: Path) -> tuple[list[str], pd.DataFrame]:
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if line.strip()
    ]
    rows = [json.loads(line).get("inputs") or {} for line in lines]
    return lines, pd.DataFrame(rows)


def parquet_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    inputs = [c for c in frame.columns if str(c).startswith("inputs.")]
    return frame[inputs].rename(columns=lambda c: c[len("inputs.") :])


def search_file(path: Path, selection: Selection) -> tuple[CaptureHit, np.ndarray | None]:
    """The request applied to one file: by key or query when the captured inputs hold
    their columns, else by the selected rows' values (models rarely take the key)."""
    if path.suffix == ".jsonl":
        inputs = jsonl_inputs(path)[1]
    else:
        inputs = parquet_inputs(pd.read_parquet(path))
    if not len(inputs):
        return CaptureHit(str(path), 0, 0), np.zeros(0, dtype=bool)
    errors = []
    for kind, match in ((selection.kind, selection.matches), ("values", selection.matches_values)):
        try:
            mask = match(inputs, str(path))
        except BadInputError as err:
            errors.append(str(err))
            continue
        return CaptureHit(str(path), int(mask.sum()), len(mask), kind), mask
    return CaptureHit(str(path), 0, len(inputs), error="; ".join(errors)), None


def purge_file(path: Path, mask: np.ndarray) -> None:
    """Rewrite ``path`` without the records ``mask`` marks (atomically)."""
    if path.suffix == ".jsonl":
        lines, _ = jsonl_inputs(path)
        kept = [line for line, gone in zip(lines, mask, strict=True) if not gone]
        write_atomic(path, "".join(kept).encode("utf-8"))
        return
    import io

    frame = pd.read_parquet(path)
    buffer = io.BytesIO()
    frame.loc[~mask].to_parquet(buffer, index=False)
    write_atomic(path, buffer.getvalue())


def search_captures(directory: Path, selection: Selection, purge: bool) -> list[CaptureHit]:
    """Every capture file under ``directory``; with ``purge``, matched records removed."""
    hits = []
    for path in capture_files(directory):
        hit, mask = search_file(path, selection)
        if purge and mask is not None and hit.records:
            purge_file(path, mask)
        hits.append(hit)
    return hits
