"""``manifest.json``: the SHA-256 of every file in a models folder, ``model.json`` included.

Written when the model is saved, checked whenever it is loaded or registered: a file
changed after saving, a file missing, or any file the manifest does not list (a
``hubconf.py`` dropped beside the weights) is refused. The manifest is not a signature:
whoever makes a folder can make its manifest; it proves the folder is as it was saved,
while :mod:`assayml.models.trust` decides what loading may import.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from assayml.errors import ArtifactError

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
SHA256 = re.compile(r"^[0-9a-f]{64}$")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a file name, no folders


def seal_model(out, models_dir: str | Path) -> None:
    """Stage ``manifest.json`` listing every file staged in ``models_dir`` so far.

    Call it after the last file of the folder is staged in the output batch ``out``.
    """
    models = Path(os.path.normpath(models_dir))
    files = {
        Path(final).name: digest
        for final, digest in out.digests("sha256").items()
        if Path(final).parent == models and Path(final).name != MANIFEST_FILE
    }
    out.write_json(models / MANIFEST_FILE, manifest_document(files))


def manifest_document(files: dict[str, str]) -> dict[str, Any]:
    """The manifest for ``files`` (file name -> SHA-256), in a stable order."""
    return {
        "format_version": MANIFEST_VERSION,
        "algorithm": "sha256",
        "files": dict(sorted(files.items())),
    }


def folder_digests(models_dir: str | Path) -> dict[str, str]:
    """SHA-256 of every file in ``models_dir`` but the manifest (what a manifest would say)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(models_dir).iterdir())
        if p.is_file() and p.name != MANIFEST_FILE
    }


def verify_manifest(models_dir: str | Path) -> bool:
    """Check ``models_dir`` against its manifest; False when it has none (an older folder).

    Raises:
        ArtifactError: an unreadable manifest, a listed file missing or changed, or an
            entry in the folder the manifest does not list.
    """
    folder = Path(models_dir)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        return False
    listed = read_manifest(path)
    present = {p.name for p in folder.iterdir()} - {MANIFEST_FILE}
    unknown = sorted(present - set(listed))
    if unknown:
        raise ArtifactError(
            f"{folder}: {', '.join(unknown)} not listed in {MANIFEST_FILE}; a models "
            "folder holds only the files saved with the model, refusing it"
        )
    for name, digest in listed.items():
        file = folder / name
        if file.is_symlink() or not file.is_file():  # a link could read a file elsewhere
            raise ArtifactError(
                f"{file}: listed in {MANIFEST_FILE} but missing or not a plain file, refusing it"
            )
        if hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            raise ArtifactError(
                f"{file}: SHA-256 does not match {path}; the file was changed after the "
                "model was saved (tampered or corrupt), refusing to load"
            )
    return True


def read_manifest(path: Path) -> dict[str, str]:
    """The manifest's files (name -> SHA-256), each entry checked for shape."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ArtifactError(f"{path}: unreadable manifest: {err}") from err
    files = doc.get("files") if isinstance(doc, dict) else None
    if (
        not isinstance(files, dict)
        or doc.get("format_version") != MANIFEST_VERSION
        or doc.get("algorithm") != "sha256"
    ):
        raise ArtifactError(f"{path}: not a version-{MANIFEST_VERSION} SHA-256 manifest")
    for name, digest in files.items():
        if not PLAIN_NAME.match(name) or name == MANIFEST_FILE:
            raise ArtifactError(f"{path}: entry '{name}' is not a plain file name")
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise ArtifactError(f"{path}: entry '{name}' has no SHA-256 digest")
    return files
