"""Where the forgotten rows are: every prepared version whose fingerprints hold them.

Versions come from the workspace, from ``dvc.lock`` at every commit on every ref (branches,
tags, DVC experiments) with the files from the local DVC cache, and from the registry
(each version keeps its run's fingerprints as evidence). A version whose fingerprints
are nowhere to be read is listed as not checked, never as clean.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assayml.data.fingerprints import FINGERPRINT_FILE
from assayml.forget.select import Selection
from assayml.utils.yaml_read import safe_load

EVIDENCE_FILE = f"evidence/data/prepared/{FINGERPRINT_FILE}"
OID = re.compile(r"[0-9a-f]{32}(\.dir)?")


@dataclass
class Holder:
    """One copy of the data: a prepared version (and what was made from it) or a
    registry version; ``splits``: forgotten rows it holds, by split."""

    kind: str  # workspace | commit | registry
    where: str  # "workspace", "commit 1a2b3c4 (main, v2)", "churn@3"
    data_md5: str | None
    outputs: dict[str, str] = field(default_factory=dict)  # prepared / features / models md5s
    splits: dict[str, int] = field(default_factory=dict)
    checked: bool = True  # False: no fingerprints to read (not in the DVC cache, too old)
    by_data: bool = False  # no fingerprints of its own, but its data version holds the rows

    @property
    def holds(self) -> bool:
        return self.by_data or sum(self.splits.values()) > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "where": self.where,
            "data_md5": self.data_md5,
            "outputs": self.outputs,
            "rows": self.splits,
            "checked": self.checked,
            "holds": self.holds,
            "matched_by": "data version" if self.by_data else "fingerprints",
        }


def matched_splits(prints: pd.DataFrame, selection: Selection) -> dict[str, int]:
    hit = prints["fingerprint"].isin(selection.rows)
    if "key" in prints and selection.keys:
        hit |= prints["key"].isin(selection.keys)
    counts = prints.loc[hit, "split"].value_counts()
    return {str(split): int(n) for split, n in sorted(counts.items())}


def read_prints(content: bytes | None) -> pd.DataFrame | None:
    """A fingerprints file; None when absent or unreadable (its version is then listed as
    not checked, never as clean)."""
    if content is None:
        return None
    try:
        prints = pd.read_parquet(io.BytesIO(content))
    except (OSError, ValueError):
        return None
    return prints if {"split", "fingerprint"} <= set(prints.columns) else None


def workspace_holder(prepared: Path, records: Path, selection: Selection) -> Holder | None:
    path = prepared / FINGERPRINT_FILE
    record = records / "prepare.json"
    if not record.is_file():
        return None
    data = (json.loads(record.read_text()).get("data") or {}).get("md5")
    prints = read_prints(path.read_bytes()) if path.is_file() else None
    holder = Holder("workspace", "workspace", data, {"prepared": str(prepared)})
    if prints is None:
        holder.checked = False
    else:
        holder.splits = matched_splits(prints, selection)
    return holder


def git(root: Path, *args: str) -> str | None:
    found = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    return found.stdout if found.returncode == 0 else None


def lock_commits(root: Path) -> list[tuple[str, str]]:
    """(commit, the refs naming it) for every commit on any ref that changed dvc.lock."""
    listed = git(root, "log", "--all", "--format=%H%x09%D", "--", "dvc.lock")
    if not listed:
        return []
    return [tuple(line.split("\t", 1)) for line in listed.splitlines() if "\t" in line]


def stage_hashes(lock: dict, stage: str) -> tuple[dict[str, str], dict[str, str]]:
    node = (lock.get("stages") or {}).get(stage) or {}
    deps = {d["path"]: d.get("md5") for d in node.get("deps") or [] if "path" in d}
    outs = {o["path"]: o.get("md5") for o in node.get("outs") or [] if "path" in o}
    return deps, outs


class DvcCache:
    """Files of a DVC-tracked folder, read from the local cache by their MD5s."""

    def __init__(self, root: Path) -> None:
        from dvc.repo import Repo

        self.db = Repo(str(root)).cache.local

    def read(self, oid: str | None) -> bytes | None:
        """The cached file with this MD5; None when absent. A dvc.lock on any ref may come
        from elsewhere: only a well-formed MD5 is turned into a cache path."""
        if not isinstance(oid, str) or not OID.fullmatch(oid):
            return None
        path = Path(self.db.oid_to_path(oid))
        return path.read_bytes() if path.is_file() else None

    def file_in_dir(self, dir_oid: str | None, relpath: str) -> bytes | None:
        return self.read(listed_md5(self.read(dir_oid), relpath))


def commit_holders(root: Path, prepared: str, selection: Selection) -> list[Holder]:
    """One holder per distinct prepared version in the history of dvc.lock."""
    commits = lock_commits(root)
    if not commits:
        return []
    cache, seen = DvcCache(root), {}
    for commit, refs in commits:
        text = git(root, "show", f"{commit}:./dvc.lock")
        lock = safe_load(text) if text else None
        if not isinstance(lock, dict):
            continue
        outs = stage_hashes(lock, "prepare")[1]
        prepared_md5 = outs.get(prepared)
        if prepared_md5 is None:
            continue
        name = f"commit {commit[:7]}" + (f" ({refs})" if refs.strip() else "")
        if prepared_md5 in seen:
            seen[prepared_md5].where += f"; {name}"
            continue
        outputs = {"prepared": prepared_md5}
        for stage, out in (("features", "artifacts/features"), ("train", "models")):
            found = stage_hashes(lock, stage)[1].get(out)
            if found:
                outputs[stage] = found
        profile = cache.file_in_dir(prepared_md5, "profile.json")
        data = profile_md5(profile)
        holder = Holder("commit", name, data, outputs)
        prints = read_prints(cache.file_in_dir(prepared_md5, FINGERPRINT_FILE))
        holder.checked = prints is not None
        if prints is not None:
            holder.splits = matched_splits(prints, selection)
        seen[prepared_md5] = holder
    return list(seen.values())


def registry_holders(registry, selection: Selection, affected_md5: set[str]) -> list[Holder]:
    """Each registered version: by its fingerprints, else by its data version's MD5."""
    holders = []
    for name in registry.names():
        for doc in registry.versions(name):
            data = ((doc.get("metadata") or {}).get("data") or {}).get("md5")
            holder = Holder("registry", f"{name}@{doc['version']}", data)
            digest = doc["files"].get(EVIDENCE_FILE)
            content = registry._object(digest).read_bytes() if digest is not None else None
            if content is not None and hashlib.sha256(content).hexdigest() != digest:
                content = None  # a changed object: not this version's fingerprints
            prints = read_prints(content)
            if prints is not None:
                holder.splits = matched_splits(prints, selection)
            elif data in affected_md5:
                holder.by_data = True
            else:
                holder.checked = False
            holders.append(holder)
    return holders


def raw_versions(root: Path, data_path: str) -> dict[str, str]:
    """The data file's MD5 -> where, for every version of the ``.dvc`` file tracking it
    (its own, or its folder's: then the file's MD5 is read from the folder's listing in
    the cache, or the folder's hash is given when the listing is not there)."""
    from assayml.forget.run import tracked_by_dvc

    tracked = tracked_by_dvc(Path(data_path), root)
    if tracked is None:
        return {}
    dvc_file = f"{tracked.as_posix()}.dvc"
    inside = Path(data_path).relative_to(tracked).as_posix() if tracked != Path(data_path) else None
    cache = DvcCache(root) if inside is not None else None
    listed = git(root, "log", "--all", "--format=%H%x09%D", "--", dvc_file) or ""
    versions: dict[str, str] = {}
    for line in listed.splitlines():
        commit, _, refs = line.partition("\t")
        text = git(root, "show", f"{commit}:./{dvc_file}")
        doc = safe_load(text) if text else None
        for out in (doc or {}).get("outs") or [] if isinstance(doc, dict) else []:
            md5 = out.get("md5") if isinstance(out, dict) else None
            if not md5:
                continue
            if inside is not None:
                md5 = file_in_listing(cache, md5, inside) or md5
            name = f"commit {commit[:7]}" + (f" ({refs})" if refs.strip() else "")
            versions.setdefault(md5, name)
    return versions


def file_in_listing(cache: DvcCache, dir_md5: str, relpath: str) -> str | None:
    return listed_md5(cache.read(dir_md5), relpath)


def profile_md5(profile: bytes | None) -> str | None:
    """The data MD5 a cached profile.json names; None if it is absent or not a profile."""
    try:
        doc = json.loads(profile) if profile is not None else None
    except ValueError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    return data.get("md5") if isinstance(data, dict) else None


def listed_md5(listing: bytes | None, relpath: str) -> str | None:
    """The MD5 a DVC folder listing (``.dir``) gives ``relpath``; None if it is not there
    or the listing is not one."""
    try:
        entries = json.loads(listing) if listing is not None else []
    except ValueError:
        return None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("relpath") == relpath:
            return entry.get("md5")
    return None
