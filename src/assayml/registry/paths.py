"""Names and paths in the registry, checked wherever they come from.

A model name, a version number, a stored file's relative path and its digest each reach a
path on disk, whether typed on the command line or read back from a version's JSON (which
anyone with access to the registry folder could have edited). Each is checked here, by one
function per kind, and every path built from them is resolved and refused outside its root.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from assayml.errors import ArtifactError, BadInputError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
NAME_RULE = "letters, digits, '_', '.', '-', starting with a letter or digit; 64 at most"


def check_name(name: Any, where: str = "registry") -> str:
    """``name`` if it is a valid model name, else exit 2 naming ``where``.

    One rule for names typed on the command line and names read back from disk.
    """
    if not isinstance(name, str) or not NAME.match(name) or ".." in name:
        raise BadInputError(f"{where}: '{name}' is not a valid model name ({NAME_RULE})")
    return name


def check_version(version: Any, where: str = "registry") -> int:
    """``version`` if it is a positive whole number (not a bool, not a string)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadInputError(f"{where}: version '{version}' is not a positive whole number")
    return version


def check_relpath(relpath: Any, where: str) -> PurePosixPath:
    """A stored file's path: relative, forward slashes, no '.', '..' or empty parts."""
    path = PurePosixPath(relpath) if isinstance(relpath, str) else None
    if (
        path is None
        or path.is_absolute()
        or "\\" in relpath
        or "\x00" in relpath
        or any(part in ("", ".", "..") for part in relpath.split("/"))
    ):
        raise ArtifactError(f"{where}: stored file path '{relpath}' is not a plain relative path")
    return path


def check_digest(digest: Any, where: str) -> str:
    """A stored file's SHA-256: 64 lowercase hex digits (it names the object's path)."""
    if not isinstance(digest, str) or not SHA256.match(digest):
        raise ArtifactError(f"{where}: '{digest}' is not a SHA-256 digest")
    return digest


def inside(path: Path, root: Path, where: str) -> Path:
    """``path`` resolved (symlinks followed), refused unless it lies under ``root``."""
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise BadInputError(f"{where}: {path} resolves outside {root} ({resolved}); refusing it")
    return resolved


def check_document(doc: Any, where: str) -> dict[str, Any]:
    """A version's stored JSON: its name, version, files (paths and digests) checked."""
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
        raise ArtifactError(f"{where}: not a registry version (no 'files' mapping)")
    check_name(doc.get("name"), f"{where}: name")
    check_version(doc.get("version"), f"{where}: version")
    for relpath, digest in doc["files"].items():
        check_relpath(relpath, f"{where}: files")
        check_digest(digest, f"{where}: files['{relpath}']")
    return doc
