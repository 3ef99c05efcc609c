"""Atomic output: every file a stage writes appears whole or not at all.

A stage writes all its files through one :func:`atomic_outputs` block. Each file is written
to a temporary name beside its destination and renamed into place only when the whole block
has succeeded, so a stage that fails, or is killed, leaves the previous outputs intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


class OutputBatch:
    """Files and directories being written by one stage; put in place together by ``commit``.

    A directory the stage owns (``own_dir``) is rebuilt from scratch in a temporary sibling
    and swapped in whole, so no file of an earlier run survives in it (a regression run
    after a classification run leaves no ROC curve behind).
    """

    def __init__(self) -> None:
        self._files: dict[Path, Path] = {}  # final -> temporary, for every staged file
        self._loose: list[tuple[Path, Path]] = []  # files outside owned directories
        self._dirs: list[tuple[Path, Path]] = []  # (temporary, final) owned directories

    def own_dir(self, final_dir: str | Path) -> None:
        """Make ``final_dir`` wholly this stage's: its new content replaces the old."""
        final_dir = Path(os.path.normpath(final_dir))
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        temp = final_dir.parent / f".{uuid.uuid4().hex[:12]}.tmp.{final_dir.name}"
        temp.mkdir()
        self._dirs.append((temp, final_dir))

    def path(self, final: str | Path) -> Path:
        """A temporary path to write ``final``'s content to (same directory and suffix)."""
        final = Path(os.path.normpath(final))
        for temp_dir, final_dir in self._dirs:
            if final.is_relative_to(final_dir):
                temp = temp_dir / final.relative_to(final_dir)
                temp.parent.mkdir(parents=True, exist_ok=True)
                self._files[final] = temp
                return temp
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.parent / f".{uuid.uuid4().hex[:12]}.tmp.{final.name}"
        self._files[final] = temp
        self._loose.append((temp, final))
        return temp

    def write_bytes(self, final: str | Path, data: bytes) -> None:
        self.path(final).write_bytes(data)

    def write_text(self, final: str | Path, text: str) -> None:
        self.path(final).write_text(text, encoding="utf-8")

    def write_json(self, final: str | Path, obj: Any) -> None:
        self.write_text(final, to_json(obj))

    def digests(self) -> dict[str, str]:
        """MD5 of every file staged so far, by its final path (before commit)."""
        return {str(final): md5_file(temp) for final, temp in self._files.items()}

    def commit(self) -> None:
        for temp, final in self._loose:
            os.replace(temp, final)
        for temp, final in self._dirs:
            old = final.parent / f".{uuid.uuid4().hex[:12]}.old.{final.name}"
            if final.exists():
                os.replace(final, old)
            os.replace(temp, final)
            shutil.rmtree(old, ignore_errors=True)
        self._clear()

    def abort(self) -> None:
        for temp, _ in self._loose:
            temp.unlink(missing_ok=True)
        for temp, _ in self._dirs:
            shutil.rmtree(temp, ignore_errors=True)
        self._clear()

    def _clear(self) -> None:
        self._files.clear()
        self._loose.clear()
        self._dirs.clear()


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
