"""The model registry: a file store with a lock and atomic writes.

Layout under the registry root (``registry/``, or ``$ASSAY_REGISTRY``)::

    objects/ab/abcdef...        every registered file, stored once under its SHA-256
    models/<name>/<version>.json  a version: its files (path -> SHA-256) and metadata
    .lock                       held while a version is created or changed

A version's files are content-addressed, so registering the same weights twice stores them
once, and reading a version re-hashes every file: a changed object is refused. Versions are
numbered under the lock, so concurrent registrations never collide or lose one.

Names, versions, stored paths and digests are checked (:mod:`assayml.registry.paths`)
whether typed or read back from a version's JSON, and every path built from them is
resolved and refused outside the registry root (or the folder a version is copied to).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from filelock import FileLock

from assayml.errors import ArtifactError, BadInputError
from assayml.records import utc_now
from assayml.registry.paths import (
    NAME,
    check_digest,
    check_document,
    check_name,
    check_relpath,
    check_version,
    inside,
)
from assayml.utils.io import write_json_atomic

__all__ = ["NAME", "Registry", "registry_root"]
PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
STAGES = ("staging", "production")


def registry_root(root: str | Path | None = None) -> Path:
    return Path(root or os.environ.get("ASSAY_REGISTRY") or "registry")


class Registry:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = registry_root(root)

    # -- reading -----------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every model name stored (folder entries that are not valid names are skipped)."""
        folder = self.root / "models"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if NAME.match(p.name) and p.is_dir())

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of ``name``, oldest first, each checked against its file."""
        folder = self._model_dir(name)
        if not folder.is_dir():
            raise BadInputError(
                f"registry: no model named '{name}' (names: "
                f"{', '.join(self.names()) or 'none yet'})"
            )
        docs = [self._read(name, p) for p in folder.glob("*.json")]
        return sorted(docs, key=lambda d: d["version"])

    def get(self, name: str, version: int) -> dict[str, Any]:
        path = self._doc_path(name, version)
        if not path.is_file():
            self.versions(name)  # a clear error for an unknown name first
            raise BadInputError(f"registry: {name} has no version {version}")
        return self._read(name, path)

    def resolve(self, ref: str) -> dict[str, Any]:
        """``name@3``, ``name@production``, ``name@staging``, ``name@latest`` or ``name``."""
        name, _, selector = ref.partition("@")
        selector = selector or "latest"
        versions = self.versions(check_name(name, f"registry: reference '{ref}'"))
        if selector.isascii() and selector.isdigit():
            return self.get(name, int(selector))
        if selector == "latest":
            return versions[-1]
        if selector not in STAGES:
            raise BadInputError(
                f"registry: reference '{ref}': after '@' give a version number, latest, "
                f"or a stage ({', '.join(STAGES)})"
            )
        matches = [v for v in versions if v["stage"] == selector]
        if not matches:
            raise BadInputError(f"registry: {name} has no version in stage '{selector}'")
        return matches[-1]

    def materialize(self, doc: dict[str, Any], target: str | Path) -> Path:
        """Copy a version's files to ``target``, each verified against its SHA-256.

        Every path and file is checked before anything is written: a stored path that
        would land outside ``target``, or a changed object, refuses the whole version. Each
        file is written atomically, so two processes materialising the same version never
        read a half-written file.
        """
        target = Path(target)
        where = f"registry: {check_document(doc, 'registry: version')['name']}@{doc['version']}"
        verified = []
        for relpath, digest in doc["files"].items():
            destination = inside(target / relpath, target, f"{where}: {relpath}")
            source = self._object(digest)
            data = source.read_bytes() if source.is_file() else b""
            if hashlib.sha256(data).hexdigest() != digest:
                raise ArtifactError(
                    f"{where}: stored file {relpath} ({source}) is missing or changed; refusing it"
                )
            verified.append((destination, data))
        for destination, data in verified:
            destination.parent.mkdir(parents=True, exist_ok=True)
            temp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
            temp.write_bytes(data)
            os.replace(temp, destination)
        return target

    # -- writing -----------------------------------------------------------------------
    def register(
        self, name: str, files: dict[str, Path], metadata: dict[str, Any], user: str
    ) -> dict[str, Any]:
        """Store ``files`` (relative path -> file) as the next version of ``name``."""
        check_name(name)
        for rel in files:
            check_relpath(rel, f"registry: {name}")
        digests = {rel: self._store(path) for rel, path in sorted(files.items())}
        with self._lock():
            folder = self._model_dir(name)
            existing = [d["version"] for d in self.versions(name)] if folder.is_dir() else []
            version = max(existing, default=0) + 1
            doc = {
                "name": name,
                "version": version,
                "status": PENDING,
                "stage": None,
                "registered_at": utc_now(),
                "registered_by": user,
                "files": digests,
                "metadata": metadata,
                "history": [{"time": utc_now(), "user": user, "action": "register"}],
            }
            self._write(doc)
        return doc

    def review(self, name: str, version: int, approve: bool, user: str, reason: str):
        with self._lock():
            doc = self.get(name, version)
            if doc["status"] == REJECTED and approve:
                raise BadInputError(
                    f"registry: {name} v{version} was rejected; register a new "
                    "version instead of approving it"
                )
            if doc["status"] == APPROVED and not approve and doc["stage"] == "production":
                raise BadInputError(
                    f"registry: {name} v{version} is in production; promote "
                    "another version before rejecting it"
                )
            doc["status"] = APPROVED if approve else REJECTED
            if not approve:
                doc["stage"] = None
            doc["review"] = {"by": user, "at": utc_now(), "reason": reason}
            return self._changed(doc, user, "approve" if approve else "reject", reason)

    def promote(self, name: str, version: int, stage: str, user: str) -> dict[str, Any]:
        if stage not in STAGES:
            raise BadInputError(f"registry: stage must be one of {', '.join(STAGES)}")
        with self._lock():
            doc = self.get(name, version)
            if doc["status"] != APPROVED:
                raise BadInputError(
                    f"registry: {name} v{version} is {doc['status']}; only an "
                    "approved version can be promoted"
                )
            for other in self.versions(name):  # at most one version per stage
                if other["stage"] == stage and other["version"] != version:
                    other["stage"] = None
                    self._changed(other, user, f"demote from {stage}", f"v{version} promoted")
            doc["stage"] = stage
            return self._changed(doc, user, f"promote to {stage}", "")

    def archive(self, name: str, version: int, user: str, reason: str) -> dict[str, Any]:
        with self._lock():
            doc = self.get(name, version)
            doc["stage"], doc["archived"] = None, True
            return self._changed(doc, user, "archive", reason)

    def flag_deleted_data(
        self, name: str, version: int, user: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        """Mark a version as trained on data since deleted (``assay forget``): shown by
        ``registry show`` and ``list``; ``request`` holds ids and counts, never values."""
        with self._lock():
            doc = self.get(name, version)
            doc.setdefault("deleted_data", []).append(request)
            return self._changed(doc, user, "trained on deleted data", request["request"])

    def _changed(self, doc, user, action, reason) -> dict[str, Any]:
        doc["history"].append({"time": utc_now(), "user": user, "action": action, "reason": reason})
        self._write(doc)
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        check_document(doc, "registry: version to write")
        write_json_atomic(self._doc_path(doc["name"], doc["version"]), doc)

    def _model_dir(self, name: str) -> Path:
        folder = self.root / "models" / check_name(name)
        inside(folder, self.root, f"registry: model '{name}'")
        return folder

    def _doc_path(self, name: str, version: int) -> Path:
        path = self._model_dir(name) / f"{check_version(version)}.json"
        inside(path, self.root, f"registry: {name}@{version}")
        return path

    def _read(self, name: str, path: Path) -> dict[str, Any]:
        """A version's JSON, refused unless its name, version and files are valid and its
        name and version are those of the file it was read from."""
        if not path.stem.isascii() or not path.stem.isdigit():
            raise ArtifactError(f"{path}: not a version file (<number>.json)")
        inside(path, self.root, f"registry: {name}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ArtifactError(f"{path}: unreadable registry version: {err}") from err
        check_document(doc, str(path))
        if doc["name"] != name or doc["version"] != int(path.stem):
            raise ArtifactError(
                f"{path}: holds {doc['name']}@{doc['version']}, not {name}@{int(path.stem)}; "
                "a version's stored name and number must match its file, refusing it"
            )
        return doc

    def _store(self, path: Path) -> str:
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        target = self._object(digest)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{digest}.{os.getpid()}.tmp")
            temp.write_bytes(data)
            os.replace(temp, target)  # identical content: a concurrent writer's copy is equal
        return digest

    def _object(self, digest: str) -> Path:
        check_digest(digest, "registry: object")
        path = self.root / "objects" / digest[:2] / digest
        inside(path, self.root, f"registry: object {digest[:12]}")
        return path

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=120)
