"""The model registry: a file store with a lock and atomic writes.

Layout under the registry root (``registry/``, or ``$ASSAY_REGISTRY``)::

    objects/ab/abcdef...        every registered file, stored once under its SHA-256
    models/<name>/<version>.json  a version: its files (path -> SHA-256) and metadata
    .lock                       held while a version is created or changed

A version's files are content-addressed, so registering the same weights twice stores them
once, and reading a version re-hashes every file: a changed object is refused. Versions are
numbered under the lock, so concurrent registrations never collide or lose one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from filelock import FileLock

from assayml.errors import ArtifactError, BadInputError
from assayml.records import utc_now
from assayml.utils.io import write_json_atomic

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PENDING, APPROVED, REJECTED = "PendingManualApproval", "Approved", "Rejected"
STAGES = ("staging", "production")


def registry_root(root: str | Path | None = None) -> Path:
    return Path(root or os.environ.get("ASSAY_REGISTRY") or "registry")


class Registry:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = registry_root(root)

    # -- reading -----------------------------------------------------------------------
    def names(self) -> list[str]:
        folder = self.root / "models"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def versions(self, name: str) -> list[dict[str, Any]]:
        folder = self.root / "models" / name
        if not folder.is_dir():
            raise BadInputError(
                f"registry: no model named '{name}' (names: "
                f"{', '.join(self.names()) or 'none yet'})"
            )
        docs = [json.loads(p.read_text()) for p in folder.glob("*.json")]
        return sorted(docs, key=lambda d: d["version"])

    def get(self, name: str, version: int) -> dict[str, Any]:
        path = self.root / "models" / name / f"{version}.json"
        if not path.is_file():
            self.versions(name)  # a clear error for an unknown name first
            raise BadInputError(f"registry: {name} has no version {version}")
        return json.loads(path.read_text())

    def resolve(self, ref: str) -> dict[str, Any]:
        """``name@3``, ``name@production``, ``name@staging``, ``name@latest`` or ``name``."""
        name, _, selector = ref.partition("@")
        selector = selector or "latest"
        versions = self.versions(name)
        if selector.isdigit():
            return self.get(name, int(selector))
        if selector == "latest":
            return versions[-1]
        matches = [v for v in versions if v["stage"] == selector]
        if not matches:
            raise BadInputError(f"registry: {name} has no version in stage '{selector}'")
        return matches[-1]

    def materialize(self, doc: dict[str, Any], target: str | Path) -> Path:
        """Copy a version's files to ``target``, each verified against its SHA-256."""
        target = Path(target)
        for relpath, digest in doc["files"].items():
            source = self._object(digest)
            data = source.read_bytes() if source.is_file() else b""
            if hashlib.sha256(data).hexdigest() != digest:
                raise ArtifactError(
                    f"registry: {doc['name']}@{doc['version']}: stored file "
                    f"{relpath} ({source}) is missing or changed; refusing it"
                )
            destination = target / relpath
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        return target

    # -- writing -----------------------------------------------------------------------
    def register(
        self, name: str, files: dict[str, Path], metadata: dict[str, Any], user: str
    ) -> dict[str, Any]:
        """Store ``files`` (relative path -> file) as the next version of ``name``."""
        if not NAME.match(name):
            raise BadInputError(
                f"registry: '{name}' is not a valid name (letters, digits, "
                "'_', '.', '-'; 64 at most)"
            )
        digests = {rel: self._store(path) for rel, path in sorted(files.items())}
        with self._lock():
            existing = [int(p.stem) for p in (self.root / "models" / name).glob("*.json")]
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

    def _changed(self, doc, user, action, reason) -> dict[str, Any]:
        doc["history"].append({"time": utc_now(), "user": user, "action": action, "reason": reason})
        self._write(doc)
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        write_json_atomic(self.root / "models" / doc["name"] / f"{doc['version']}.json", doc)

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
        return self.root / "objects" / digest[:2] / digest

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=120)
