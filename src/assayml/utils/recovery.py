"""Undo (or, failing that, finish) a commit that a kill interrupted.

A commit moves the old record aside before any output is replaced and puts the new record
in last (:meth:`assayml.utils.io.OutputBatch.commit`), so after a kill the record is either
in place and true, or missing with its copies left under temporary names. The next stage
run calls :func:`recover_records` first: for a missing record it takes the old copy (the
previous outputs, as a killed stage should leave them) or else the new one, moves back
whatever content that copy names from the dead writer's temporaries (every temporary was
complete and fsynced before the first rename), and puts the record in place; then it
removes what is left of the dead writer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from assayml.utils import fsops
from assayml.utils.io import md5_file, swap_dir

MAX_DEPTH = 4  # how many folders up an output's temporary copy is looked for
Plan = dict[Path, Path]  # final path -> the dead writer's temporary holding its content


def recover_records(records_dir: str | Path) -> list[Path]:
    """Put back every record a kill left missing, with the outputs it names (paths are
    relative to the working directory, as the stage wrote them). Returns those put back."""
    folder = Path(records_dir)
    if not folder.is_dir():
        return []
    restored = []
    leftovers = [p for p in _temporaries(folder, "*.json") if not fsops.owner_alive(p.name)]
    for final in sorted({folder / p.name.split(".", 3)[-1] for p in leftovers}):
        mine = [p for p in leftovers if p.name.split(".", 3)[-1] == final.name]
        # The retired record first (roll back), then the new one (roll forward).
        named = _named([*mine, final])
        for copy in sorted(mine, key=lambda p: (".tmp." in p.name, -p.stat().st_mtime)):
            if final.exists() or not copy.exists():
                break
            plan = _plan(copy)
            if plan is not None:
                _apply(plan)
                fsops.rename(copy, final)
                fsops.fsync_dir(folder)
                restored.append(final)
        fsops.remove_stale(folder, final.name)
        _clean(named)
    return restored


def _named(records: list[Path]) -> set[Path]:
    """Every output path these records name."""
    paths = set()
    for record in records:
        try:
            paths.update(Path(p) for p in json.loads(record.read_text())["outputs"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return paths


def _clean(paths: set[Path]) -> None:
    """Remove dead writers' temporaries of these outputs and their folders; where an
    output is missing its temporaries stay (a swap to undo: ``restore_interrupted_swap``)."""
    levels = {
        lv for p in paths for lv in [p, *p.parents][:MAX_DEPTH] if lv.name not in ("", ".", "..")
    }
    for level in levels:
        if level.exists():
            fsops.remove_stale(level.parent, level.name)


def _plan(record: Path) -> Plan | None:
    """What to move back so that every output the record names is on disk as named; None
    when some named content is nowhere to be found."""
    try:
        outputs = json.loads(record.read_text(encoding="utf-8"))["outputs"]
        named = [(Path(p), str(d)) for p, d in outputs.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    plan: Plan = {}
    for path, digest in named:
        if _where(path, plan).is_file() and md5_file(_where(path, plan)) == digest:
            continue
        found = _find(path, digest)
        if found is None:
            return None
        plan[found[0]] = found[1]
    # Moving a folder back may change files checked before it: check all again.
    ok = all(_where(p, plan).is_file() and md5_file(_where(p, plan)) == d for p, d in named)
    return plan if ok else None


def _where(path: Path, plan: Plan) -> Path:
    """Where ``path``'s content will be once ``plan`` is applied."""
    for final, temp in plan.items():
        if path == final or path.is_relative_to(final):
            return temp / path.relative_to(final) if path != final else temp
    return path


def _find(path: Path, digest: str) -> tuple[Path, Path] | None:
    """(final, temporary): a dead writer's temporary of ``path`` or of a folder above it
    that holds ``path``'s content with this digest."""
    for level in [path, *path.parents][:MAX_DEPTH]:
        if level.name in ("", ".", ".."):
            break
        for temp in _temporaries(level.parent, level.name):
            if fsops.owner_alive(temp.name):
                continue
            copy = temp / path.relative_to(level) if level != path else temp
            if copy.is_file() and md5_file(copy) == digest:
                return level, temp
    return None


def _apply(plan: Plan) -> None:
    for final, temp in plan.items():
        if final.is_dir() and temp.is_dir():
            shutil.rmtree(swap_dir(temp, final), ignore_errors=True)
        else:
            fsops.rename(temp, final)
        fsops.fsync_dir(final.parent)


def _temporaries(folder: Path, name: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for kind in ("tmp", "old") for p in folder.glob(f".*.{kind}.{name}")]


__all__ = ["recover_records"]
