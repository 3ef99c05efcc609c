"""Atomic output: every file a stage writes appears whole or not at all.

A stage writes all its files through one :func:`atomic_outputs` block. Each file is written
to a temporary name beside its destination and renamed into place only when the whole block
has succeeded, so a stage that fails, or is killed, leaves the previous outputs intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


class OutputBatch:
    """Files being written by one stage; renamed into place together by ``commit``."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, final: str | Path) -> Path:
        """A temporary path to write ``final``'s content to (same directory and suffix)."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.parent / f".{uuid.uuid4().hex[:12]}.tmp.{final.name}"
        self._pending.append((temp, final))
        return temp

    def write_bytes(self, final: str | Path, data: bytes) -> None:
        self.path(final).write_bytes(data)

    def write_text(self, final: str | Path, text: str) -> None:
        self.path(final).write_text(text, encoding="utf-8")

    def write_json(self, final: str | Path, obj: Any) -> None:
        self.write_text(final, to_json(obj))

    def digests(self) -> dict[str, str]:
        """MD5 of every file staged so far, by its final path (before commit)."""
        return {str(final): md5_file(temp) for temp, final in self._pending}

    def commit(self) -> None:
        for temp, final in self._pending:
            os.replace(temp, final)
        self._pending.clear()

    def abort(self) -> None:
        for temp, _ in self._pending:
            temp.unlink(missing_ok=True)
        self._pending.clear()


@contextmanager
def atomic_outputs() -> Iterator[OutputBatch]:
    """Collect a stage's files; commit them if the block succeeds, discard them if not."""
    batch = OutputBatch()
    try:
        yield batch
    except BaseException:
        batch.abort()
        raise
    batch.commit()


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write one JSON file atomically."""
    with atomic_outputs() as out:
        out.write_json(path, obj)


def to_json(obj: Any) -> str:
    """Stable, readable JSON (insertion order, two-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def md5_file(path: str | Path) -> str:
    """MD5 of a file's bytes: what DVC 3 records for a file."""
    return _digest(path, hashlib.md5())


def sha256_file(path: str | Path) -> str:
    return _digest(path, hashlib.sha256())


def _digest(path: str | Path, hasher: Any) -> str:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
