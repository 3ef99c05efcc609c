"""Atomic output: every file a stage writes appears whole or not at all.

A stage writes all its files through one :func:`atomic_outputs` block. Each file is written
to a temporary name beside its destination and renamed into place only when the whole block
has succeeded, so a stage that fails, or is killed, leaves the previous outputs intact.

The commit is ordered so that a record never names what is not there: everything is
fsynced first; the old record is moved aside; the outputs go in (an owned folder is
exchanged with its new version in one step where the system allows); then the new record;
each step's folder is fsynced. A kill at any point leaves either no record or one that
agrees with the outputs, and the next start puts back whichever record matches the files
on disk and removes the temporaries of dead writers
(:func:`assayml.utils.recovery.recover_records`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assayml.utils import fsops

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
        self._records: set[Path] = set()  # files that describe the others: committed last

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
        fsops.remove_stale(final_dir.parent, final_dir.name)  # a killed run's leftovers
        temp = fsops.temp_sibling(final_dir)
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
        fsops.remove_stale(final.parent, final.name)
        temp = fsops.temp_sibling(final)
        self._files[final] = temp
        self._loose.append((temp, final))
        return temp

    def write_bytes(self, final: str | Path, data: bytes) -> None:
        self.path(final).write_bytes(data)

    def write_text(self, final: str | Path, text: str) -> None:
        self.path(final).write_text(text, encoding="utf-8")

    def write_json(self, final: str | Path, obj: Any) -> None:
        self.write_text(final, to_json(obj))

    def write_record(self, final: str | Path, obj: Any) -> None:
        """Stage a record (a JSON file with an ``outputs`` map: path -> MD5): it goes in
        place after every output it names, and its predecessor leaves before them."""
        self.write_json(final, obj)
        self._records.add(Path(os.path.normpath(final)))

    def digests(self, algorithm: str = "md5") -> dict[str, str]:
        """MD5 (or another hashlib ``algorithm``) of every file staged so far, by its final
        path (before commit)."""
        return {str(k): _digest(t, hashlib.new(algorithm)) for k, t in self._files.items()}

    def commit(self) -> None:
        """Put everything in place, in the crash-safe order the module docstring gives."""
        outputs = [pair for pair in self._loose if pair[1] not in self._records]
        records = [pair for pair in self._loose if pair[1] in self._records]
        for temp, _ in self._dirs:
            fsops.fsync_tree(temp)
        for temp, _ in self._loose:
            fsops.fsync_file(temp)
        retired = [(final, _retire(final)) for _, final in records if final.exists()]
        _sync_parents(final for final, _ in retired)
        displaced = [swap_dir(temp, final) for temp, final in self._dirs]
        for temp, final in outputs:
            fsops.rename(temp, final)
        _sync_parents(final for _, final in [*self._dirs, *outputs])
        for temp, final in records:
            fsops.rename(temp, final)
        _sync_parents(final for _, final in records)
        for old in displaced:
            shutil.rmtree(old, ignore_errors=True)
        for _, old in retired:
            old.unlink(missing_ok=True)
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
        self._records.clear()


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


def swap_dir(temp: Path, final: Path) -> Path:
    """Put folder ``temp`` at ``final``; returns where the old content now is (to delete).

    One atomic exchange where the system has it, so ``final`` is never missing; else two
    renames, and a kill between them is undone by :func:`restore_interrupted_swap`."""
    if final.exists() and fsops.exchange(temp, final):
        return temp  # the old content, under the temporary name
    old = fsops.temp_sibling(final, "old")
    if final.exists():
        fsops.rename(final, old)
    fsops.rename(temp, final)
    return old


def _retire(record: Path) -> Path:
    """Move a record aside before the outputs it names are replaced."""
    aside = fsops.temp_sibling(record, "old")
    fsops.rename(record, aside)
    return aside


def _sync_parents(finals) -> None:
    for parent in {Path(final).parent for final in finals}:
        fsops.fsync_dir(parent)


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


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, Infinity) replaced by None, for JSON that
    carries figures from elsewhere (an audit entry's details) and must stay strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


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
