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
        """Make ``final_dir`` wholly this stage's: its new content replaces the old.

        Raises:
            ArtifactError: when ``final_dir`` holds sub-folders (no stage writes any: it is
                someone's folder, e.g. ``paths.prepared_dir=data``) or contains the working
                directory; nothing is replaced.
        """
        final_dir = Path(os.path.normpath(final_dir))
        refuse_foreign_dir(final_dir)
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        restore_interrupted_swap(final_dir)
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

    def digests(self, algorithm: str = "md5") -> dict[str, str]:
        """MD5 (or another hashlib ``algorithm``) of every file staged so far, by its final
        path (before commit)."""
        return {str(k): _digest(t, hashlib.new(algorithm)) for k, t in self._files.items()}

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


def refuse_foreign_dir(folder: Path) -> None:
    """Stop before an output folder setting would replace a folder a stage did not make."""
    from assayml.errors import ArtifactError

    if Path.cwd().resolve().is_relative_to(folder.resolve()):
        raise ArtifactError(
            f"{folder}: an output folder cannot hold the project itself; "
            "point the paths.* setting at a folder of its own"
        )
    if folder.is_dir() and any(entry.is_dir() for entry in folder.iterdir()):
        raise ArtifactError(
            f"{folder}: holds sub-folders, so it is not a stage's output "
            "folder; refusing to replace it (check the paths.* settings)"
        )


def restore_interrupted_swap(folder: Path) -> None:
    """A kill between the two renames of a swap leaves the old folder under a temporary
    name and none at ``folder``: put the old one back."""
    if folder.exists():
        return
    leftovers = sorted(folder.parent.glob(f".*.old.{folder.name}"), key=os.path.getmtime)
    if leftovers:
        os.replace(leftovers[-1], folder)


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
