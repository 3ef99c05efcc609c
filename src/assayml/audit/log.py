"""The audit trail: an append-only JSON-lines log whose entries form a hash chain.

Each entry holds its sequence number, UTC time, user, host, action, subject, input and
output hashes, config hash and details, the hash of the previous entry, and its own hash
(SHA-256 of the canonical JSON of everything else). Editing, deleting, inserting or
reordering an entry breaks the chain at that entry, and :func:`verify` names it.
Appends take a file lock, so concurrent writers (parallel sweep jobs, several terminals)
never lose or interleave lines.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from assayml.records import utc_now

AUDIT_FILE = "audit/audit.jsonl"
GENESIS = "0" * 64  # the "previous hash" of the first entry
TAIL_BYTES = 1 << 16  # read from the end to find the last entry


def audit_path(root: str | Path = ".") -> Path:
    return Path(root) / AUDIT_FILE


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
) -> dict[str, Any]:
    """Append one entry (under the log's lock) and return it."""
    path = audit_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=60):
        last = _last_entry(path)
        entry = {
            "seq": (last["seq"] + 1) if last else 1,
            "time": utc_now(),
            "user": user or current_user(),
            "host": socket.gethostname(),
            "action": action,
            "subject": subject,
            "inputs": inputs or {},
            "outputs": outputs or {},
            "config_hash": config_hash,
            "details": details or {},
            "prev": last["hash"] if last else GENESIS,
        }
        entry["hash"] = entry_hash(entry)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return entry


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@dataclass
class Verdict:
    intact: bool
    entries: int
    problem: str | None = None  # names the first broken entry


def verify(root: str | Path = ".") -> Verdict:
    """Walk the chain from the first entry; stop at the first that does not fit."""
    path = audit_path(root)
    if not path.exists():
        return Verdict(True, 0)
    previous, expected_seq = GENESIS, 1
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        try:
            entry = json.loads(line)
        except ValueError:
            return Verdict(False, number - 1, f"{where}: not a JSON entry (edited or torn)")
        seq = entry.get("seq")
        if entry.get("hash") != entry_hash(entry):
            return Verdict(
                False,
                number - 1,
                f"{where} (seq {seq}): content does not match its hash: the entry was edited",
            )
        if entry.get("prev") != previous:
            return Verdict(False, number - 1, _link_problem(where, seq, expected_seq))
        if seq != expected_seq:
            return Verdict(False, number - 1, f"{where}: sequence {seq}, expected {expected_seq}")
        previous, expected_seq = entry["hash"], expected_seq + 1
    return Verdict(True, len(lines))


def _link_problem(where: str, seq: Any, expected: int) -> str:
    if isinstance(seq, int) and seq > expected:
        return f"{where} (seq {seq}): entries {expected}..{seq - 1} before it were deleted"
    if isinstance(seq, int) and seq < expected:
        return f"{where} (seq {seq}): out of order (moved or re-inserted; expected {expected})"
    return f"{where} (seq {seq}): does not follow the entry before it: inserted or reordered"


def read_entries(
    root: str | Path = ".",
    action: str | None = None,
    subject: str | None = None,
    since: str | None = None,
) -> list[dict[str, Any]]:
    """Entries matching the filters: action prefix, subject substring, time >= since."""
    path = audit_path(root)
    if not path.exists():
        return []
    entries = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [
        e
        for e in entries
        if (action is None or e["action"].startswith(action))
        and (subject is None or subject in e["subject"])
        and (since is None or e["time"] >= since)
    ]


def _last_entry(path: Path) -> dict[str, Any] | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    return json.loads(lines[-1]) if lines else None
