"""Captured requests (``assay serve --capture``) that hold the forgotten rows: found by
applying the same request to each file's inputs, and rewritten without them.

The search changes nothing: it returns each file's new content, written only once the
data file is in place. A JSON-lines file's last line without a newline (the server may
be writing it) is kept as it is, unread. A file that cannot be searched is reported by
name and line, never by value. When ``assay monitor --watch`` has read a rewritten file,
its state is moved to the same record in the new file, so the watch reads on from there.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
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
    error: str | None = None  # why the file could not be searched (names, never values)
    new_content: bytes | None = field(default=None, repr=False)  # to write, when it held rows
    kept_lines: list[bool] | None = field(default=None, repr=False)  # JSON lines kept

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


def jsonl_records(path: Path) -> tuple[list[bytes], bytes, pd.DataFrame]:
    """(whole lines, the unfinished tail, their inputs); a line that is not a JSON record
    is bad input naming the file and line."""
    content = path.read_bytes()
    cut = content.rfind(b"\n") + 1
    lines, tail = content[:cut].splitlines(keepends=True), content[cut:]
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            rows.append({})
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise BadInputError(f"{path}: line {number} is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("inputs", {}), dict):
            raise BadInputError(f"{path}: line {number} is not a capture record")
        rows.append(record.get("inputs") or {})
    return lines, tail, pd.DataFrame(rows)


def parquet_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    inputs = [c for c in frame.columns if str(c).startswith("inputs.")]
    return frame[inputs].rename(columns=lambda c: c[len("inputs.") :])


def match(inputs: pd.DataFrame, selection: Selection, path: Path) -> tuple[np.ndarray, str]:
    """By key or query when the captured inputs hold their columns, else by the selected
    rows' values (models rarely take the key)."""
    errors = []
    for kind, matcher in (
        (selection.kind, selection.matches),
        ("values", selection.matches_values),
    ):
        try:
            return matcher(inputs, str(path)), kind
        except BadInputError as err:
            errors.append(str(err))
    raise BadInputError("; ".join(errors))


def search_file(path: Path, selection: Selection) -> CaptureHit:
    try:
        if path.suffix == ".jsonl":
            lines, tail, inputs = jsonl_records(path)
        else:
            frame = pd.read_parquet(path)
            inputs = parquet_inputs(frame)
        if not len(inputs):
            return CaptureHit(str(path), 0, 0)
        mask, kind = match(inputs, selection, path)
    except BadInputError as err:
        return CaptureHit(str(path), 0, 0, error=str(err))
    except (OSError, ValueError):  # an unreadable Parquet file: named, not quoted
        return CaptureHit(str(path), 0, 0, error=f"{path}: cannot be read")
    hit = CaptureHit(str(path), int(mask.sum()), len(mask), kind)
    if hit.records and path.suffix == ".jsonl":
        hit.kept_lines = [not gone for gone in mask]
        kept = [line for line, keep in zip(lines, hit.kept_lines, strict=True) if keep]
        hit.new_content = b"".join(kept) + tail
    elif hit.records:
        buffer = io.BytesIO()
        frame.loc[~mask].to_parquet(buffer, index=False)
        hit.new_content = buffer.getvalue()
    return hit


def search_captures(directory: Path, selection: Selection) -> list[CaptureHit]:
    """Every capture file under ``directory``, searched; nothing is written."""
    return [search_file(path, selection) for path in capture_files(directory)]


def purge(hits: list[CaptureHit], directory: Path, watch_state: Path | None) -> list[str]:
    """Write each file's new content (atomically), then move ``assay monitor --watch``'s
    state for it; the files written, in order."""
    written = []
    for hit in hits:
        if hit.new_content is None:
            continue
        path = Path(hit.path)
        write_atomic(path, hit.new_content)
        written.append(hit.path)
        if watch_state is not None and hit.kept_lines is not None:
            move_watch_state(watch_state, directory, path, hit.kept_lines)
    return written


def move_watch_state(state_path: Path, directory: Path, path: Path, kept: list[bool]) -> None:
    """The watch had read the first ``lines`` lines (``bytes`` bytes) of ``path``: after the
    rewrite that is the kept ones among them, so the next execution starts at the same
    record instead of refusing a file that got shorter."""
    from filelock import FileLock

    if not state_path.is_file():
        return
    with FileLock(f"{state_path}.lock"):
        state = json.loads(state_path.read_text())
        if state.get("watch") != str(directory.resolve()) or path.parent != directory:
            return
        entry = (state.get("files") or {}).get(path.name)
        if not entry:
            return
        lines = path.read_bytes().splitlines(keepends=True)
        read = sum(kept[: entry["lines"]])
        entry["lines"], entry["bytes"] = read, sum(len(line) for line in lines[:read])
        write_atomic(state_path, json.dumps(state, indent=2).encode("utf-8"))
