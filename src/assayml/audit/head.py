"""The chain head: how many entries the trail holds and the hash of the last one.

Every append rewrites ``records/audit_head.json`` (the working head) and, in a git work
tree, adds the head to git as a commit on the ref ``refs/assay/audit`` (the anchor: each
commit's message is the head, its parent the previous one). Deleting the log's last
entries, or the whole log, leaves the working head and every anchored head naming an entry
the log no longer holds; that is how truncation is found, which the chain alone cannot show.

Each trail has its own ref: ``refs/assay/audit`` for a project at the top of its work tree,
``refs/assay/audit-<path>`` for one in a sub-folder, and in a linked work tree (``git
worktree add``, as ``assay reproduce`` rebuilds in) the per-worktree
``refs/worktree/assay/audit...``, so another trail never reads as this one truncated.

The anchor lives on a ref, not in the work tree, so that running a command leaves
``git status`` clean (a committed state stays committed; DVC-hashed outputs do not churn).
Push it with ``git push origin refs/assay/audit`` to anchor the trail beyond this clone.
Heads committed as ``records/audit_head.json`` (before the ref existed) are read too.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assayml.audit.key import AuditKey

HEAD_FILE = "records/audit_head.json"
ANCHOR_REF = "refs/assay/audit"
MAX_COMMITS = 500  # committed heads checked by verify, newest first
# The anchor's commits are the tool's, not the user's: a fixed identity, so that anchoring
# never fails for want of a configured git user. The empty tree: the head is the message.
ANCHOR_IDENTITY = {
    "GIT_AUTHOR_NAME": "assay audit",
    "GIT_AUTHOR_EMAIL": "audit@assayml.invalid",
    "GIT_COMMITTER_NAME": "assay audit",
    "GIT_COMMITTER_EMAIL": "audit@assayml.invalid",
}
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


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
    """The working head atomically (temp file, fsync, rename, fsync of the folder), then
    the anchor (:func:`anchor_head`)."""
    from assayml.utils.io import write_json_atomic

    write_json_atomic(head_path(root), head.to_dict())
    anchor_head(root, head)


def anchor_ref(root: str | Path) -> str | None:
    """The ref that anchors the trail of the project at ``root`` (module docstring); None
    outside a git work tree."""
    import hashlib
    import os

    # One git call for the three facts: every append asks.
    found = _git_ok(
        root,
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--absolute-git-dir",
        "--git-common-dir",
    )
    if found is None or len(found.splitlines()) != 3:
        return None
    top, git_dir, common = found.splitlines()
    linked = git_dir != common
    rel = os.path.relpath(Path(root).resolve(), Path(top).resolve())
    name = ANCHOR_REF
    if rel != ".":  # a readable, ref-safe suffix and a hash that keeps paths apart
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in rel)[:40]
        name += f"-{safe}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"
    return name.replace("refs/", "refs/worktree/", 1) if linked else name


def anchor_head(root: str | Path, head: Head) -> bool:
    """Commit ``head`` onto the trail's ref (:func:`anchor_ref`), with a reflog; False
    outside a git work tree (or where git refuses, e.g. a read-only repository: the working
    head still stands, and ``verify`` then reports the anchors it lacks)."""
    import os

    body = json.dumps(head.to_dict(), sort_keys=True)
    env = {**os.environ, **ANCHOR_IDENTITY}
    try:
        ref = anchor_ref(root)
        if ref is None:
            return False
        parent = _git_ok(root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
        args = ["commit-tree", EMPTY_TREE, "-m", body] + (["-p", parent] if parent else [])
        commit = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True, text=True, check=True, timeout=60, env=env,
        ).stdout.strip()  # fmt: skip
        # The old value guards against a concurrent append moving the ref meanwhile.
        _git(root, "update-ref", "--create-reflog", ref, commit, parent or "")
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


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
    """Every head git holds, newest first: those anchored on :data:`ANCHOR_REF` and the
    versions of the head file committed before it (up to ``MAX_COMMITS`` of each); None
    when ``root`` is not in a git work tree."""
    try:
        _git(root, "rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.CalledProcessError):
        return None
    return anchored_heads(root) + _file_heads(root)


def anchored_heads(root: str | Path) -> list[Head]:
    """The heads on the trail's ref (:func:`anchor_ref`), newest first."""
    ref = anchor_ref(root)
    if ref is None or not _git_ok(root, "rev-parse", "--verify", "-q", ref):
        return []
    log = _git(root, "log", f"-{MAX_COMMITS}", "--format=%H%x00%B%x1e", ref)
    heads = []
    for record in log.split("\x1e"):
        commit, _, body = record.strip().partition("\x00")
        if commit and (head := parse_head(body, f"anchor {commit[:12]}")) is not None:
            heads.append(head)
    return heads


def _file_heads(root: str | Path) -> list[Head]:
    """The versions of the head file committed to the branch history (the anchor before
    :data:`ANCHOR_REF`)."""
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


def _git_ok(root: str | Path, *args: str) -> str | None:
    """Output of a git command, or None where it fails (e.g. a ref that does not exist)."""
    try:
        return _git(root, *args).strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def _git(root: str | Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout
