"""Which captured records a watching monitor has not read yet, and the state file that
remembers what it has.

The capture writer (serve/capture.py) appends whole JSON lines to a file until it rotates
to a new one, and writes each Parquet file in one go; neither marks a file as finished. So
a file is taken as *closed* once it has not changed for ``monitor.settle_s`` seconds, and
of a JSON-lines file only whole lines are read, up to its last newline. The state keeps,
per file, how many bytes (and lines) have been read: should a quiet file grow again (a
server that was idle), the next execution reads only the new lines, so no record is
missed and none is read twice.

State file (JSON, replaced atomically, written only after an execution's outputs are in
place)::

    {"version": 1, "watch": "/abs/captured", "last_execution": "20261201T063000.123456Z",
     "files": {"capture-ab12.jsonl": {"bytes": 5120, "lines": 20,
                                       "execution": "20261201T063000.123456Z"}}}
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assayml.errors import ArtifactError, DataError
from assayml.utils.io import write_json_atomic

STATE_VERSION = 1
PATTERNS = ("capture-*.jsonl", "capture-*.parquet")


@dataclass
class Piece:
    """The part of one capture file an execution reads: bytes [start, end), lines from
    ``first_line`` (1-based), ``records`` of them."""

    name: str
    start: int
    end: int
    first_line: int = 1
    records: int = 0
    note: str | None = field(default=None, compare=False)  # not stored: said once

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "note"}


def load_state(path: Path, watch: Path) -> dict[str, Any]:
    """The state of ``watch``'s monitor (empty when there is none yet)."""
    watch_key = str(watch.resolve())
    if not path.exists():
        return {"version": STATE_VERSION, "watch": watch_key, "last_execution": None, "files": {}}
    try:
        state = json.loads(path.read_text())
        valid = state.get("version") == STATE_VERSION and isinstance(state.get("files"), dict)
    except (json.JSONDecodeError, AttributeError):
        valid = False
    if not valid:
        raise ArtifactError(f"{path}: not a monitor state file (version {STATE_VERSION})")
    if state["watch"] != watch_key:
        raise ArtifactError(
            f"{path}: remembers the folder {state['watch']}, not {watch_key}; give this "
            "folder its own --out (or --state)"
        )
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    write_json_atomic(path, state)


def closed_pieces(
    watch: Path, state: dict[str, Any], settle_s: float, now: float | None = None
) -> tuple[list[Piece], list[str]]:
    """The unread parts of closed capture files, oldest first; and the names of files
    still being written (changed less than ``settle_s`` seconds ago)."""
    if not watch.is_dir():
        raise DataError(f"{watch}: no such capture folder")
    now = time.time() if now is None else now
    files = sorted(
        (p for pattern in PATTERNS for p in watch.glob(pattern) if p.is_file()),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    pieces, open_files = [], []
    for path in files:
        info = path.stat()
        if now - info.st_mtime < settle_s:
            open_files.append(path.name)
            continue
        done = state["files"].get(path.name)
        if path.suffix == ".parquet":
            if done is None:
                pieces.append(Piece(path.name, 0, info.st_size))
            continue
        start = done["bytes"] if done else 0
        if info.st_size < start:
            raise DataError(
                f"{path}: shorter ({info.st_size} bytes) than when it was read "
                f"({start} bytes): a capture file was rewritten; remove its entry from "
                "the monitor's state file to read it again"
            )
        if info.st_size > start:
            pieces.append(Piece(path.name, start, info.st_size, (done or {}).get("lines", 0) + 1))
    return pieces, open_files


def read_pieces(watch: Path, pieces: list[Piece]) -> tuple[pd.DataFrame, list[Piece]]:
    """The records of ``pieces`` (flattened as ``pd.json_normalize`` does), and the pieces
    as read: a JSON-lines piece ends at its last newline (a line without one is left for
    later); pieces with no whole line are dropped."""
    frames, read = [], []
    for piece in pieces:
        path = watch / piece.name
        if path.suffix == ".parquet":
            try:
                frame = pd.read_parquet(path)
            except Exception as err:  # pyarrow raises several classes for a bad file
                raise DataError(f"{path}: not a readable Parquet file ({err})") from None
            piece.records = len(frame)
        else:
            frame = _read_lines(path, piece)
        if piece.records:
            frames.append(frame)
            read.append(piece)
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return records, read


def _read_lines(path: Path, piece: Piece) -> pd.DataFrame:
    with open(path, "rb") as handle:
        handle.seek(piece.start)
        data = handle.read(piece.end - piece.start)
    whole = data[: data.rfind(b"\n") + 1]
    piece.end = piece.start + len(whole)
    if len(data) > len(whole):
        piece.note = (
            f"{path.name}: {len(data) - len(whole)} bytes after its last newline left "
            "unread (a record still being written, or torn by a crash)"
        )
    rows = []
    for offset, line in enumerate(whole.splitlines()):
        try:
            rows.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            number = piece.first_line + offset
            raise DataError(f"{path}: line {number} is not a JSON record ({err})") from None
    piece.records = len(rows)
    return pd.json_normalize(rows)


def mark_read(state: dict[str, Any], pieces: list[Piece], execution: str) -> dict[str, Any]:
    """``state`` with ``pieces`` recorded as read by ``execution``."""
    files = dict(state["files"])
    for piece in pieces:
        before = files.get(piece.name, {}).get("lines", 0)
        files[piece.name] = {
            "bytes": piece.end,
            "lines": before + piece.records,
            "execution": execution,
        }
    return state | {"files": files, "last_execution": execution}
