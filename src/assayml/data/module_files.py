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
from pathlib import Path
from typing import Any

from assayml.errors import DataError
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


def tracked_md5(root: Path, rel: str) -> str | None:
    """The hash DVC recorded for ``rel`` in ``rel.dvc``, if DVC tracks it that way."""
    import yaml

    dvc_file = root / f"{rel}.dvc"
    if not dvc_file.is_file():
        return None
    try:
        outs = yaml.safe_load(dvc_file.read_text(encoding="utf-8")).get("outs", [])
        return next((o.get("md5") for o in outs if o.get("path") == Path(rel).name), None)
    except (OSError, yaml.YAMLError, AttributeError):
        return None


def file_identities(root: str | Path, files: list[str], read_from: str | Path | None = None):
    """``{path: {"md5", "dvc_md5"}}`` for each declared path, read under ``read_from``
    (a revision's copy) or the project root; a missing path is a DataError naming it."""
    root = Path(root)
    base = Path(read_from) if read_from is not None else root
    identities: dict[str, dict[str, Any]] = {}
    for rel in files:
        path = base / rel
        if not path.exists():
            raise DataError(f"data.files: '{rel}' not found under {base}")
        identities[rel] = {"md5": content_md5(path), "dvc_md5": tracked_md5(root, rel)}
    return identities


def combined_md5(identities: dict[str, dict[str, Any]]) -> str | None:
    """One hash for all declared paths (None when the DataModule declares none)."""
    if not identities:
        return None
    listing = json.dumps({k: v["md5"] for k, v in sorted(identities.items())}, sort_keys=True)
    return hashlib.md5(listing.encode()).hexdigest()


def checkout_rev(root: str | Path, files: list[str], rev: str) -> Path:
    """Copy every declared path as it was at git revision ``rev`` (DVC-tracked through
    DVC's cache or remote, git-tracked through git) into ``.assay/rev/<commit>/`` and
    return that folder; an existing complete copy is reused."""
    from assayml.records import resolve_rev

    root = Path(root).resolve()
    commit = resolve_rev(root, rev)
    if commit is None:
        raise DataError(f"data.rev: '{rev}' is not a git revision of {root}")
    target = root / ".assay" / "rev" / commit
    done = target / ".complete"
    if done.is_file():
        return target
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException

    fs = DVCFileSystem(str(root), rev=commit)
    for rel in files:
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get(rel, str(destination), recursive=True)
        except (DvcException, FileNotFoundError, OSError) as err:
            raise DataError(f"data.files: cannot read '{rel}' at {rev}: {err}") from err
    done.write_text(rev, encoding="utf-8")
    return target
