"""The audit trail: an append-only JSON-lines log whose entries form a hash chain.

Each entry holds its sequence number, UTC time, user, host, action, subject, input and
output hashes, config hash and details, the hash of the previous entry, and its own hash
(SHA-256 of the canonical JSON of everything else). Once the trail is keyed
(``assay audit init``) each entry also carries the key's id and an HMAC of its hash, so a
chain rewritten with recomputed hashes no longer checks. After each entry the chain head
(``records/audit_head.json``, committed with the records) is rewritten, so deleting the
last entries is found too (:mod:`assayml.audit.verify`).

Appends take a file lock, so concurrent writers (parallel sweep jobs, several terminals)
never lose or interleave lines. A log whose last line is torn (a crash while writing) is
refused before a command writes anything: :func:`ensure_appendable`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from filelock import FileLock

from assayml.audit.head import make_head, read_head, write_head
from assayml.audit.key import AuditKey, AuditKeyError, load_key
from assayml.errors import BadInputError
from assayml.records import utc_now
from assayml.utils.fsops import fsync_dir
from assayml.utils.io import finite

AUDIT_FILE = "audit/audit.jsonl"
GENESIS = "0" * 64  # the "previous hash" of the first entry
CHUNK = 1 << 16  # read backwards in pieces this size to find the last line
LOCK_TIMEOUT_S = 60


class AuditLogError(BadInputError):
    """The log cannot take another entry (its last line is torn or not an entry)."""


def audit_path(root: str | Path = ".") -> Path:
    return Path(root) / AUDIT_FILE


def lock_for(path: Path) -> FileLock:
    return FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)


def current_user() -> str:
    """ASSAY_USER if set (CI, service accounts), else the login name."""
    return os.environ.get("ASSAY_USER") or getpass.getuser()


def append(
    root: str | Path,
    action: str,
    subject: str,
    *,
    inputs: dict | None = None,
    outputs: dict | None = None,
    config_hash: str | None = None,
    details: dict | None = None,
    user: str | None = None,
    key: AuditKey | None = None,
) -> dict[str, Any]:
    """Append one entry (under the log's lock), update the chain head, return the entry.

    Args:
        key: sign with this key (``assay audit init``); by default the trail's own key
            when it is keyed, found with :func:`signing_key`.

    Raises:
        AuditLogError, AuditKeyError: the log cannot take an entry; nothing was written.
    """
    path = audit_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = entry_fields(action, subject, inputs, outputs, config_hash, details, user)
    with lock_for(path):
        return append_locked(root, fields, key)


def entry_fields(
    action: str,
    subject: str,
    inputs: dict | None = None,
    outputs: dict | None = None,
    config_hash: str | None = None,
    details: dict | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """An entry's own content (the chain adds seq, prev, hash and MAC)."""
    return {
        "time": utc_now(),
        "user": user or current_user(),
        "host": socket.gethostname(),
        "action": action,
        "subject": subject,
        "inputs": inputs or {},
        "outputs": outputs or {},
        "config_hash": config_hash,
        "details": finite(details or {}),
    }


def append_locked(root: str | Path, fields: dict[str, Any], key: AuditKey | None) -> dict:
    """Chain, sign and write one entry, then the head; the caller holds the lock."""
    path = audit_path(root)
    last = last_entry(path)
    key = key or signing_key(root, last)
    entry = {
        "seq": (last["seq"] + 1) if last else 1,
        **fields,
        "prev": last["hash"] if last else GENESIS,
    }
    if key is not None:
        entry["key_id"] = key.key_id
    entry["hash"] = entry_hash(entry)
    if key is not None:
        entry["mac"] = key.mac(entry["hash"])
    created = not path.exists()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True, allow_nan=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        fsync_dir(path.parent)  # the new file's name must survive a power cut too
    # The entry is durable before the head names it: a crash in between leaves the head
    # one entry behind (verify notes it; the next append or repair catches up).
    first = entry["hash"] if entry["seq"] == 1 else first_hash(path)
    write_head(root, make_head(entry, first, key))
    return entry


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON, without its hash and MAC."""
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    ).hexdigest()


def signing_key(root: str | Path, last: dict[str, Any] | None) -> AuditKey | None:
    """The key new entries must carry: None while the trail is not keyed; else the key
    this machine has, which must be the trail's.

    A log that is empty or absent while the head says "keyed" (a fresh clone, the
    worktree ``assay reproduce`` builds in: ``audit/`` is not in git) starts a new chain,
    signed when the trail's key is here; verify reports the committed chain's absence.

    Raises:
        AuditKeyError: keyed, and no key here or another key.
    """
    head = read_head(root)
    wanted = (last or {}).get("key_id") or (head.key_id if head else None)
    if not wanted:
        return None
    key = load_key()
    if last is None:
        return key if key is not None and key.key_id == wanted else None
    if key is None:
        raise AuditKeyError(
            f"{audit_path(root)} is keyed (key id {wanted}) and no key is set here; set "
            "ASSAY_AUDIT_KEY_FILE to the key file (or ASSAY_AUDIT_KEY to the key) that "
            "`assay audit init` made; nothing was written"
        )
    if key.key_id != wanted:
        raise AuditKeyError(
            f"{audit_path(root)} is keyed with key id {wanted}, but the key from "
            f"{key.source} has id {key.key_id}; nothing was written"
        )
    return key


def ensure_appendable(root: str | Path = ".") -> None:
    """Stop a command before it writes anything when its audit entry could not be added:
    a torn or foreign last line, or a keyed trail without its key here.

    Raises:
        AuditLogError, AuditKeyError: with how to repair.
    """
    path = audit_path(root)
    signing_key(root, last_entry(path))


def last_entry(path: Path) -> dict[str, Any] | None:
    """The log's last entry; None for an empty or missing log.

    Raises:
        AuditLogError: the last line is torn (no newline) or not an entry.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    line, complete = _last_line(path)
    try:
        entry = json.loads(line)
        ok = isinstance(entry["seq"], int) and isinstance(entry["hash"], str)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not (ok and complete):
        raise AuditLogError(
            f"{path}: the last line is {'not an audit entry' if complete else 'torn'} "
            f"({line[:60]!r}...), most likely from a crash while it was written; "
            "nothing was written. Run `assay audit repair` (it sets the line aside in a "
            "file beside the log and records the repair as an entry), then run this again"
        )
    return entry


def _last_line(path: Path) -> tuple[str, bool]:
    """(the last line's text, whether it ends with a newline)."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        handle.seek(end - 1)
        complete = handle.read(1) == b"\n"
        stop = end - 1 if complete else end
        data, at = b"", stop
        while at > 0 and b"\n" not in data:
            at = max(0, at - CHUNK)
            handle.seek(at)
            data = handle.read(stop - at)
    return data.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace"), complete


def first_hash(path: Path) -> str | None:
    with open(path, encoding="utf-8", errors="replace") as handle:
        try:
            return json.loads(handle.readline()).get("hash")
        except (ValueError, AttributeError):
            return None


def read_entries(
    root: str | Path = ".",
    action: str | None = None,
    subject: str | None = None,
    since: str | None = None,
) -> list[dict[str, Any]]:
    """Entries matching the filters: action prefix, subject substring, time >= since.
    Lines that are not entries (a torn last line) are skipped: verify reports them."""
    path = audit_path(root)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "action" in entry:
            entries.append(entry)
    return [
        e
        for e in entries
        if (action is None or str(e["action"]).startswith(action))
        and (subject is None or subject in str(e.get("subject")))
        and (since is None or str(e.get("time")) >= since)
    ]


__all__ = ["AuditKeyError", "append", "ensure_appendable", "read_entries"]
