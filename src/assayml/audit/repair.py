"""``assay audit repair``: undo what a crash leaves, and record that it was done.

A crash while an entry is written leaves a torn last line; a crash between the entry and
the head leaves the head behind. Repair moves trailing lines that are not entries to a
file beside the log (they stay as evidence), ends the log with a newline, and appends an
``audit.repair`` entry saying what it removed (which also brings the head up to date). It
never changes or drops a complete entry: an edited, deleted or reordered entry is evidence,
reported by ``assay audit verify``, and the log is restored from backup instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from assayml.audit.head import read_head
from assayml.audit.log import (
    AUDIT_FILE,
    append_locked,
    audit_path,
    entry_fields,
    lock_for,
    signing_key,
)
from assayml.records import utc_now


def repair(root: str | Path = ".") -> dict[str, Any] | None:
    """Set aside a torn tail and update a stale head; return the ``audit.repair`` entry,
    or None when there was nothing to repair.

    Raises:
        AuditKeyError: the trail is keyed and its key is not here (nothing is changed).
    """
    path = audit_path(root)
    if not path.exists():
        return None
    with lock_for(path):
        data = path.read_bytes()
        keep, add_newline = complete_prefix(data)
        torn = keep < len(data) or add_newline
        head = read_head(root)
        last = _entry(data[:keep].splitlines()[-1]) if keep else None
        head_behind = last is not None and (head is None or head.entries < last["seq"])
        if not torn and not head_behind:
            return None
        key = signing_key(root, last)  # before changing anything: refuse without the key
        details: dict[str, Any] = {
            "head_before": {"entries": head.entries, "hash": head.hash} if head else None
        }
        if torn:
            details.update(_set_aside(path, data, keep, add_newline))
        fields = entry_fields("audit.repair", AUDIT_FILE, details=details)
        return append_locked(root, fields, key)


def complete_prefix(data: bytes) -> tuple[int, bool]:
    """(the length of the log up to its last complete entry, whether that entry lacks its
    newline). Trailing lines that are not entries fall outside it; a complete entry missing
    only its newline stays (the newline is added)."""
    end = len(data)
    while end > 0:
        start = data.rfind(b"\n", 0, end - 1) + 1
        line = data[start:end]
        if _entry(line.rstrip(b"\n")) is not None:
            return end, not line.endswith(b"\n")
        end = start
    return 0, False


def _set_aside(path: Path, data: bytes, keep: int, add_newline: bool) -> dict[str, Any]:
    """Copy the torn tail beside the log (fsynced), then cut it from the log."""
    removed = data[keep:]
    saved = path.with_name(f"{path.name}.torn-{utc_now().replace(':', '')}")
    if removed:
        with open(saved, "xb") as handle:
            handle.write(removed)
            handle.flush()
            os.fsync(handle.fileno())
    with open(path, "r+b") as handle:
        handle.truncate(keep)
        if add_newline:
            handle.seek(keep)
            handle.write(b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return {
        "removed_lines": len(removed.splitlines()),
        "removed_bytes": len(removed),
        "removed_sha256": hashlib.sha256(removed).hexdigest(),
        "saved_to": saved.name if removed else None,
        "newline_added": add_newline,
    }


def _entry(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if isinstance(entry, dict) and isinstance(entry.get("seq"), int) and "hash" in entry:
        return entry
    return None
