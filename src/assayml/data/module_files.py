"""The files and folders a user's LightningDataModule reads (``data.files``): their
content hashes for records and lineage, and their bytes at a git revision (``data.rev``).

A file's hash is the MD5 of its bytes and a folder's is DVC's directory hash (the MD5 of
the sorted JSON list of its files' ``{"md5", "relpath"}``), computed here without DVC, so
it equals what ``dvc add`` writes into the folder's ``.dvc`` file; where such a file
exists its hash is recorded beside ours (``dvc_md5``), and a mismatch means the workspace
differs from what DVC tracks.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from assayml.errors import ConfigError, DataError
from assayml.utils.io import md5_file


def content_md5(path: Path) -> str:
    """MD5 of a file, or DVC's ``<md5>.dir`` hash of a folder."""
    if path.is_file():
        return md5_file(path)
    entries = []
    for folder, _, names in os.walk(path):
        for name in names:
            full = Path(folder) / name
            relpath = full.relative_to(path).as_posix()
            entries.append({"md5": md5_file(full), "relpath": relpath})
    entries.sort(key=lambda e: e["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode()  # DVC's own form of a .dir object
    return hashlib.md5(listing).hexdigest() + ".dir"


def declared_path(root: Path, rel: str) -> Path:
    """``root / rel`` for a ``data.files`` entry, which must be relative and stay inside the
    project root: nothing outside it is hashed or fetched. Checked on the path as written
    (no symlinks followed: DVC may link files into a cache kept elsewhere)."""
    base = Path(os.path.abspath(root))
    if Path(rel).is_absolute():
        raise ConfigError(f"data.files: '{rel}' is absolute; give it relative to {base}")
    path = Path(os.path.normpath(base / rel))
    if path != base and base not in path.parents:
        raise ConfigError(f"data.files: '{rel}' is outside the project root {base}")
    return path


def tracked_md5(root: Path, rel: str, commit: str | None = None) -> str | None:
    """The hash DVC recorded for ``rel`` in ``rel.dvc``, if DVC tracks it that way: in the
    workspace, or as committed at ``commit``. A revision's copy has no ``.dvc`` files
    (DVCFileSystem.get copies the data only), and the workspace's may have moved on since,
    so under ``data.rev`` the file is read from git at that commit: the record then says
    what DVC tracked at the revision, beside what was read."""
    if commit is None:
        dvc_file = Path(root) / f"{rel}.dvc"
        if not dvc_file.is_file():
            return None
        try:
            text = dvc_file.read_text(encoding="utf-8")
        except OSError:
            return None
    else:
        result = subprocess.run(
            ["git", "-C", str(root), "show", f"{commit}:./{rel}.dvc"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if result.returncode != 0:  # not DVC-tracked through a .dvc file at that commit
            return None
        text = result.stdout
    return _dvc_out_md5(text, rel)


def _dvc_out_md5(text: str, rel: str) -> str | None:
    import yaml

    from assayml.utils.yaml_read import safe_load

    try:
        outs = safe_load(text).get("outs", [])
        return next((o.get("md5") for o in outs if o.get("path") == Path(rel).name), None)
    except (yaml.YAMLError, AttributeError):
        return None


def file_identities(
    root: str | Path,
    files: list[str],
    read_from: str | Path | None = None,
    commit: str | None = None,
):
    """``{path: {"md5", "dvc_md5"}}`` for each declared path, read under ``read_from``
    (the copy at git ``commit``) or the project root; a missing path is a DataError naming
    it, one outside the project root a ConfigError."""
    root = Path(root)
    base = Path(read_from) if read_from is not None else root
    identities: dict[str, dict[str, Any]] = {}
    for rel in files:
        declared_path(root, rel)
        path = base / rel
        if not path.exists():
            raise DataError(f"data.files: '{rel}' not found under {base}")
        identities[rel] = {"md5": content_md5(path), "dvc_md5": tracked_md5(root, rel, commit)}
    return identities


def combined_md5(identities: dict[str, dict[str, Any]]) -> str | None:
    """One hash for all declared paths (None when the DataModule declares none)."""
    if not identities:
        return None
    listing = json.dumps({k: v["md5"] for k, v in sorted(identities.items())}, sort_keys=True)
    return hashlib.md5(listing.encode()).hexdigest()


def checkout_rev(root: str | Path, files: list[str], rev: str) -> Path:
    """Copy every declared path as it was at git revision ``rev`` (DVC-tracked through
    DVC's cache or remote, git-tracked through git) into ``.assay/rev/<commit>-<key>/``
    and return that folder. ``<key>`` hashes the sorted paths, so declaring another path at
    the same revision makes a new copy. The copy is fetched into a temporary folder beside
    it and renamed into place whole: a killed fetch leaves no partial copy to reuse, and of
    concurrent runs (a sweep) the first rename wins and the others use its copy."""
    from assayml.records import resolve_rev

    root = Path(root).resolve()
    for rel in files:
        declared_path(root, rel)
    commit = resolve_rev(root, rev)
    if commit is None:
        raise DataError(f"data.rev: '{rev}' is not a git revision of {root}")
    target = root / ".assay" / "rev" / f"{commit}-{files_key(files)}"
    if (target / COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _fetch(root, files, commit, rev, staging)
        (staging / COMPLETE).write_text(rev, encoding="utf-8")
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


COMPLETE = ".complete"  # written last into a copy; only complete copies are renamed in


def files_key(files: list[str]) -> str:
    """A short hash of the sorted, normalised declared paths: part of a copy's name."""
    listing = json.dumps(sorted({os.path.normpath(rel) for rel in files}))
    return hashlib.sha256(listing.encode()).hexdigest()[:12]


def _fetch(root: Path, files: list[str], commit: str, rev: str, into: Path) -> None:
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException

    fs = DVCFileSystem(str(root), rev=commit)
    for rel in files:
        destination = into / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get(rel, str(destination), recursive=True)
        except (DvcException, FileNotFoundError, OSError) as err:
            raise DataError(f"data.files: cannot read '{rel}' at {rev}: {err}") from err


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the finished copy to ``target``; if another run got there first, keep its
    copy (same commit, same paths: the same bytes)."""
    if target.exists() and not (target / COMPLETE).is_file():
        shutil.rmtree(target, ignore_errors=True)  # left by an older, non-atomic fetch
    try:
        os.rename(staging, target)
    except OSError:
        if not (target / COMPLETE).is_file():
            raise
