"""One deletion request, end to end: select the rows, find every copy, write the new data
version, purge captures, flag registry versions, record it; optionally retrain.

Order matters for the trail: each record is written only after what it names is in
place (new file, then its DVC hash, then registry flags, then the report, then the audit
entry). The forgotten values go nowhere: the report and the audit entry hold counts, the
versions that held the rows and data hashes; never the request's expression or keys.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assayml.config.schema import AssayConfig, DataSource
from assayml.data.fingerprints import key_fingerprints, row_fingerprints
from assayml.errors import BadInputError
from assayml.forget import search
from assayml.forget.captures import purge, search_captures
from assayml.forget.rewrite import rewrite_without, write_atomic
from assayml.forget.select import Selection, by_expression, by_keys, read_keys
from assayml.records import utc_now

REPORT_DIR = Path("reports") / "forget"


@dataclass
class Request:
    where: str | None = None  # a pandas query on the raw table
    keys: str | None = None  # a CSV/Parquet file listing the subjects' keys
    key: str | None = None  # the key column (default: data.key)
    reason: str = ""
    captures: str | None = None  # a capture folder to search and purge
    registry: str | None = None
    dry_run: bool = False  # find and report; change nothing
    watch_state: Path | None = None  # `assay monitor --watch`'s state, moved past purges
    retrain: bool = False  # then rebuild the pipeline on the new version


@dataclass
class Outcome:
    request_id: str
    selection: Selection
    old_md5: str
    new_md5: str | None = None
    holders: list[search.Holder] = field(default_factory=list)
    unchecked_versions: dict[str, str] = field(default_factory=dict)
    captures: list = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    dvc_tracked: bool = False
    purged: list[str] = field(default_factory=list)  # capture files rewritten
    failed: str | None = None  # the step that failed, after earlier ones wrote
    retrained: dict | None = None
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        sel = self.selection
        return {
            "request": self.request_id,
            "selection": {
                "kind": sel.kind,
                "rows": int(sel.mask.sum()),
                "unmatched_keys": sel.unmatched_keys,
            },
            "data": {
                "old_md5": self.old_md5,
                "new_md5": self.new_md5,
                "dvc_tracked": self.dvc_tracked,
            },
            "holders": [h.to_dict() for h in self.holders],
            "data_versions_not_checked": self.unchecked_versions,
            "captures": [c.to_dict() for c in self.captures],
            "registry_flagged": self.flagged,
            "captures_rewritten": self.purged,
            "captures_not_searched": [c.path for c in self.captures if c.error],
            "failed_at": self.failed,
            "retrained": self.retrained,
            "report": self.report,
        }


def check_forgettable(cfg: AssayConfig) -> None:
    data = cfg.data
    if getattr(data, "_target_", None) or data.source is not DataSource.file:
        raise BadInputError(
            "assay forget edits your own table (data.source=file); built-in sets and "
            "DataModules cannot be edited here"
        )
    if data.rev is not None:
        raise BadInputError(
            f"data.rev={data.rev}: assay forget writes a new version of the file in the "
            "workspace; run it without data.rev (old revisions are found and listed)"
        )
    if data.streaming:
        raise BadInputError("data.streaming: no row fingerprints are recorded for streamed data")


def select(cfg: AssayConfig, request: Request):
    """(raw data, validated table, the selection with its fingerprints)."""
    from assayml.data.schema import validate_frame
    from assayml.data.sources import load_raw

    if bool(request.where) == bool(request.keys):
        raise BadInputError("give either --where EXPR or --keys FILE (with --key COLUMN)")
    raw = load_raw(cfg.data, cfg.paths.root_dir)
    frame = validate_frame(raw.frame, cfg.data, cfg.data.path)
    if request.where:
        selection = by_expression(frame, request.where, cfg.data.path)
    else:
        column = request.key or cfg.data.key
        if column is None:
            raise BadInputError("--keys needs --key COLUMN (or data.key in the data config)")
        selection = by_keys(frame, read_keys(request.keys, column), column, cfg.data.path)
    selection.rows = set(row_fingerprints(frame.loc[selection.mask]))  # per row: hash only these
    selection.selected = frame.loc[selection.mask]
    if cfg.data.key is not None:
        chosen = frame.loc[selection.mask, cfg.data.key]
        if selection.kind == "keys" and selection.key_column == cfg.data.key:
            chosen = selection.key_values  # subjects absent from today's table too
        selection.keys = set(key_fingerprints(chosen)) - {None}
    return raw, frame, selection


def find_holders(cfg: AssayConfig, selection: Selection, registry) -> tuple[list, dict]:
    root = Path(cfg.paths.root_dir)
    prepared, records = Path(cfg.paths.prepared_dir), Path(cfg.paths.records_dir)
    holders = []
    workspace = search.workspace_holder(prepared, records, selection)
    if workspace is not None:
        holders.append(workspace)
    if (root / "dvc.yaml").is_file():
        holders += search.commit_holders(root, prepared.as_posix(), selection)
    affected = {h.data_md5 for h in holders if h.holds and h.data_md5}
    if registry is not None:
        holders += search.registry_holders(registry, selection, affected)
    checked = {h.data_md5 for h in holders if h.checked}
    versions = search.raw_versions(root, cfg.data.path)
    return holders, {md5: at for md5, at in versions.items() if md5 not in checked}


def plan_version(cfg: AssayConfig, drop: np.ndarray) -> bytes:
    """The file's new content without the dropped rows, checked to read back as exactly
    the kept rows; nothing is written yet."""
    from assayml.data.sources import parse_table

    path = Path(cfg.paths.root_dir) / cfg.data.path
    fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    if cfg.data.format.name != "auto":
        fmt = cfg.data.format.name
    content = rewrite_without(path, fmt, drop)
    if len(parse_table(content, cfg.data.path, cfg.data.format)) != int((~drop).sum()):
        raise BadInputError(f"{path}: the rewritten file does not read back as the kept rows")
    return content


def write_version(cfg: AssayConfig, content: bytes) -> tuple[str, bool]:
    """Write the new content atomically; ``dvc add`` it when DVC tracks it."""
    import hashlib

    write_atomic(Path(cfg.paths.root_dir) / cfg.data.path, content)
    tracked = tracked_by_dvc(Path(cfg.data.path), Path(cfg.paths.root_dir))
    if tracked is not None:
        dvc(cfg.paths.root_dir, "add", "-q", tracked.as_posix())
    return hashlib.md5(content).hexdigest(), tracked is not None


def tracked_by_dvc(path: Path, root: Path) -> Path | None:
    """The file or folder whose ``.dvc`` file tracks ``path`` (``data/raw.dvc`` tracks
    ``data/raw/x.csv``), relative to ``root``; None when DVC does not track it."""
    for candidate in (path, *path.parents):
        if candidate != Path(".") and (root / f"{candidate}.dvc").is_file():
            return candidate
    return None


def dvc(root: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BadInputError(f"dvc {' '.join(args)} failed: {done.stderr.strip()[-500:]}")


def retrain(root: str) -> dict:
    """Rebuild on the new version: ``dvc repro`` in a DVC project, else ``assay run``."""
    if (Path(root) / "dvc.yaml").is_file():
        command = [sys.executable, "-m", "dvc", "repro"]
    else:
        command = [sys.executable, "-m", "assayml.cli.main", "run"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BadInputError(
            f"retraining ({' '.join(command[1:])}) failed with exit {done.returncode}: "
            f"{done.stderr.strip()[-800:]}; the new data version is in place"
        )
    return {"command": " ".join(command[2:]), "exit": 0}


def request_id() -> str:
    """Time and a random part: nothing derived from what is forgotten."""
    import uuid

    stamp = utc_now().replace("-", "").replace(":", "").split(".")[0]
    return f"forget-{stamp}-{uuid.uuid4().hex[:8]}"


class ForgetFailed(BadInputError):
    """A step failed after the first write: what was written is in ``outcome``."""

    def __init__(self, outcome: Outcome, step: str, cause: BaseException) -> None:
        self.outcome, self.step = outcome, step
        self.exit_code = getattr(cause, "exit_code", 1)
        super().__init__(
            f"{outcome.request_id}: stopped at {step}: {cause}; what was written before is "
            f"listed in {outcome.report} and the audit trail (forget.failed)"
        )


def forget(cfg: AssayConfig, request: Request, user: str) -> Outcome:
    """Carry out (or with ``dry_run`` only report) one deletion request: every new file
    is worked out first, then written, so a bad input changes nothing."""
    from assayml.registry.store import Registry, registry_root

    check_forgettable(cfg)
    raw, _, selection = select(cfg, request)
    outcome = Outcome(request_id(), selection, raw.md5)
    registry_dir = registry_root(request.registry)
    registry = Registry(registry_dir) if registry_dir.is_dir() else None
    outcome.holders, outcome.unchecked_versions = find_holders(cfg, selection, registry)
    folder = Path(request.captures) if request.captures else None
    if folder is not None:
        if not folder.is_dir():
            raise BadInputError(f"--captures: {folder}: no such folder")
        outcome.captures = search_captures(folder, selection)
    if request.dry_run:
        return outcome
    content = plan_version(cfg, selection.mask) if selection.mask.any() else None
    report = Path(cfg.paths.root_dir) / REPORT_DIR / f"{outcome.request_id}.json"
    outcome.report = str(report)
    step = "data"
    try:
        if content is not None:
            outcome.new_md5, outcome.dvc_tracked = write_version(cfg, content)
        step = "captures"
        if folder is not None:
            outcome.purged = purge(outcome.captures, folder, request.watch_state)
        step = "registry"
        flag_registry(outcome, registry, user)
    except Exception as err:
        outcome.failed = step
        write_report(outcome, report)
        raise ForgetFailed(outcome, step, err) from err
    write_report(outcome, report)
    return outcome


def flag_registry(outcome: Outcome, registry, user: str) -> None:
    for holder in outcome.holders:
        if holder.kind != "registry" or not holder.holds:
            continue
        name, version = holder.where.rsplit("@", 1)
        rows = sum(holder.splits.values()) if holder.splits else None
        registry.flag_deleted_data(
            name,
            int(version),
            user,
            {
                "request": outcome.request_id,
                "at": utc_now(),
                "rows": rows if rows is not None else "unknown",
                "data_md5": holder.data_md5,
            },
        )
        outcome.flagged.append(holder.where)


def write_report(outcome: Outcome, path: Path) -> None:
    """``reports/forget/<request>.json``: what was found and done, without any value."""
    from assayml.utils.io import write_json_atomic

    write_json_atomic(path, outcome.to_dict())
