"""The chain head: how many entries the trail holds and the hash of the last one.

Every append rewrites ``records/audit_head.json`` beside the pipeline records, which git
tracks (``audit/`` is not in git). Deleting the log's last entries, or the whole log, leaves
the head (and every committed version of it) naming an entry the log no longer holds; that
is how truncation is found, which the chain alone cannot show.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assayml.audit.key import AuditKey

HEAD_FILE = "records/audit_head.json"
MAX_COMMITS = 500  # committed heads checked by verify, newest first


@dataclass(frozen=True)
class Head:
    entries: int  # the sequence number of the last entry
    hash: str  # its hash
    first: str | None = None  # the first entry's hash: names the chain
    key_id: str | None = None  # set once the trail is keyed
    mac: str | None = None  # HMAC of the summary, when keyed
    source: str = HEAD_FILE  # where it was read: the file, or "commit abc1234"

    def summary(self) -> str:
        return f"{self.entries}:{self.hash}:{self.first}:{self.key_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "log": "audit/audit.jsonl",
            "entries": self.entries,
            "hash": self.hash,
            "first": self.first,
            "key_id": self.key_id,
            "mac": self.mac,
        }


def head_path(root: str | Path = ".") -> Path:
    return Path(root) / HEAD_FILE


def make_head(last: dict[str, Any], first: str | None, key: AuditKey | None) -> Head:
    head = Head(last["seq"], last["hash"], first, key.key_id if key else last.get("key_id"))
    return replace(head, mac=key.mac(head.summary()) if key else None)


def write_head(root: str | Path, head: Head) -> None:
    """Atomically (temp file, fsync, rename, fsync of the folder)."""
    from assayml.utils.io import write_json_atomic

    write_json_atomic(head_path(root), head.to_dict())


def read_head(root: str | Path = ".") -> Head | None:
    """The working tree's head; None when there is none or it is not a head."""
    path = head_path(root)
    try:
        return parse_head(path.read_text(encoding="utf-8"), HEAD_FILE)
    except OSError:
        return None


def parse_head(text: str, source: str) -> Head | None:
    try:
        doc = json.loads(text)
        return Head(
            int(doc["entries"]),
            str(doc["hash"]),
            doc.get("first"),
            doc.get("key_id"),
            doc.get("mac"),
            source,
        )
    except (ValueError, KeyError, TypeError):
        return None


def committed_heads(root: str | Path = ".") -> list[Head] | None:
    """Every version of the head file that git history holds, newest first (up to
    ``MAX_COMMITS``); None when ``root`` is not in a git work tree."""
    try:
        _git(root, "rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.CalledProcessError):
        return None
    try:
        log = _git(root, "log", f"-{MAX_COMMITS}", "--format=%H", "--", HEAD_FILE)
    except subprocess.CalledProcessError:
        return []  # a repository without commits yet
    commits = log.split()
    if not commits:
        return []
    # One `git cat-file --batch` for all versions instead of a process per commit.
    request = "".join(f"{c}:./{HEAD_FILE}\n" for c in commits)
    result = subprocess.run(
        ["git", "-C", str(root), "cat-file", "--batch"],
        input=request.encode(),
        capture_output=True,
        timeout=60,
    )
    return [
        head
        for commit, blob in zip(commits, _batch_blobs(result.stdout), strict=False)
        if blob is not None and (head := parse_head(blob, f"commit {commit[:12]}")) is not None
    ]


def _batch_blobs(output: bytes) -> list[str | None]:
    """The bodies in ``git cat-file --batch`` output ("<sha> blob <size>\\n<body>\\n", or
    "<name> missing\\n" where a commit deleted the file)."""
    blobs: list[str | None] = []
    at = 0
    while at < len(output):
        end = output.index(b"\n", at)
        header = output[at:end].split()
        if len(header) == 3:
            size = int(header[2])
            blobs.append(output[end + 1 : end + 1 + size].decode("utf-8", errors="replace"))
            at = end + 1 + size + 1
        else:
            blobs.append(None)
            at = end + 1
    return blobs


def _git(root: str | Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout
