"""What changed between two git revisions or DVC experiments (``assay runs compare A B``).

Each side is read at its commit, through DVC and git, never from the workspace: params and
metrics with ``dvc.api.params_show`` / ``dvc.api.metrics_show``, data hashes from the
``dvc.lock`` and ``*.dvc`` files, the weights' SHA-256 from ``models/model.json`` (through
``DVCFileSystem``: DVC's cache) and the changed files from ``git diff --name-only``. A DVC
experiment (``dvc exp run``) is a commit under ``refs/exps``: its name resolves to it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assayml.errors import BadInputError
from assayml.utils.yaml_read import safe_load

# Stages whose deps and outs are the data (their code deps are left out): the raw data
# version, the prepared splits and the fitted features. Models are the weights' part.
DATA_STAGES = ("prepare", "features")
MODELS_DIR = "models"
# Files a pipeline run rewrites: changed params and outputs show in their own sections.
NOT_CODE = ("dvc.lock", "params.yaml", "params.provenance.json")


@dataclass
class Revision:
    ref: str  # as given: HEAD~1, a tag, a sha, an experiment name
    commit: str
    experiment: str | None = None  # the DVC experiment's name
    baseline: str | None = None  # the commit the experiment ran on
    params: dict[str, Any] = field(default_factory=dict)  # flat keys
    metrics: dict[str, Any] = field(default_factory=dict)  # flat keys, scalars
    data: dict[str, str] = field(default_factory=dict)  # path -> md5
    outputs: set[str] = field(default_factory=set)  # pipeline outputs (not code)
    models_md5: str | None = None
    weights_sha256: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "experiment": self.experiment,
            "baseline": self.baseline,
        }


def open_repo(root: str | Path = "."):
    """The DVC repository holding ``root``, or None outside a git + DVC repository."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        repo = Repo(str(root))
    except NotDvcRepoError:
        return None
    from scmrepo.git import Git

    if isinstance(repo.scm, Git):
        return repo
    repo.close()  # DVC without git (`dvc init --no-scm`): no revisions to read
    return None


def resolve_revision(repo, ref: str) -> Revision | None:
    """The commit ``ref`` names (git revision first, then DVC experiment), or None."""
    from dvc.repo.experiments.utils import AmbiguousExpRefInfo, resolve_name
    from scmrepo.exceptions import RevError

    scm = repo.scm
    try:
        return Revision(ref, scm.resolve_rev(ref))
    except RevError:
        pass
    if ref == "HEAD" or ref.startswith("refs/"):
        return None
    try:
        info = resolve_name(scm, ref).get(ref)
    except AmbiguousExpRefInfo:
        raise BadInputError(
            f"'{ref}' names more than one DVC experiment (different baselines); give its "
            "commit (see `dvc exp show --sha`)"
        ) from None
    if info is None:
        return None
    return Revision(ref, scm.get_ref(str(info)), experiment=info.name, baseline=info.baseline_sha)


def read_revision(repo, revision: Revision) -> Revision:
    """Fill ``revision`` with what DVC and git hold at its commit."""
    import dvc.api

    root, rev = repo.root_dir, revision.commit
    revision.params = _flat(_quiet(lambda: dvc.api.params_show(repo=root, rev=rev)) or {})
    metrics = _flat(_quiet(lambda: dvc.api.metrics_show(repo=root, rev=rev)) or {})
    revision.metrics = {k: v for k, v in metrics.items() if _scalar(v)}
    lock = safe_load(_git_show(root, rev, "dvc.lock") or "") or {}
    for name, stage in (lock.get("stages") or {}).items():
        for out in stage.get("outs") or []:
            revision.outputs.add(out["path"])
            if out["path"] == MODELS_DIR:
                revision.models_md5 = out.get("md5")
        if name in DATA_STAGES:
            for entry in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
                if not _is_code(entry["path"]):
                    revision.data[entry["path"]] = entry.get("md5")
    for dvc_file in _git(root, "ls-tree", "-r", "--name-only", rev).splitlines():
        if dvc_file.endswith(".dvc") and not dvc_file.startswith(".dvc/"):
            doc = safe_load(_git_show(root, rev, dvc_file) or "") or {}
            folder = Path(dvc_file).parent
            for out in doc.get("outs") or []:
                revision.data[(folder / out["path"]).as_posix()] = out.get("md5")
    revision.weights_sha256 = _weights_sha256(root, rev)
    return revision


def compare_revisions(a: Revision, b: Revision, root: str | Path) -> dict[str, Any]:
    """Params that differ (typed), every metric with its delta, data hashes, changed code
    files and the weights' hash of each side."""
    keys = sorted(set(a.params) | set(b.params))
    params = {
        k: [a.params.get(k), b.params.get(k)]
        for k in keys
        if not _same(a.params.get(k, _MISSING), b.params.get(k, _MISSING))
    }
    metrics = {
        k: [a.metrics.get(k), b.metrics.get(k), _delta(a.metrics.get(k), b.metrics.get(k))]
        for k in sorted(set(a.metrics) | set(b.metrics))
    }
    paths = sorted(set(a.data) | set(b.data))
    data = {p: [a.data.get(p), b.data.get(p)] for p in paths}
    outputs = a.outputs | b.outputs | set(paths)  # data in git (data/raw) is data too
    # --relative: paths from the DVC project's root (a `dvc init --subdir` project), and
    # only files below it.
    changed = _git(root, "diff", "--relative", "--name-only", a.commit, b.commit).splitlines()
    code = [f for f in changed if not _pipeline_file(f, outputs)]
    return {
        "revisions": [a.describe(), b.describe()],
        "params": params,
        "metrics": metrics,
        "data": {
            "paths": data,
            "changed": [p for p in paths if data[p][0] != data[p][1]],
        },
        "code": code,
        "weights": {
            "sha256": [a.weights_sha256, b.weights_sha256],
            "models_md5": [a.models_md5, b.models_md5],
            "same": _same_weights(a, b),
        },
    }


_MISSING = object()


def _same_weights(a: Revision, b: Revision) -> bool | None:
    """By the weights' SHA-256 where both sides have it, else by models/' md5; None where
    neither side has trained a model."""
    if a.weights_sha256 and b.weights_sha256:
        return a.weights_sha256 == b.weights_sha256
    if a.models_md5 or b.models_md5:
        return a.models_md5 == b.models_md5
    return None


def _same(a: Any, b: Any) -> bool:
    """Typed equality: 1 and 1.0 agree, True and 1 or "1" and 1 do not."""
    number = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, number) and isinstance(b, number):
        return a == b
    return type(a) is type(b) and a == b


def _delta(a: Any, b: Any) -> float | None:
    if _number(a) and _number(b):
        return round(b - a, 6)
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flat(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): node} if prefix else {}


def _is_code(path: str) -> bool:
    from assayml.stages.table import STAGES

    code = {c for stage in STAGES for c in stage.code}
    return path in code or path.startswith(("src/", "records/", "conf"))


def _pipeline_file(path: str, outputs: set[str]) -> bool:
    """A file the pipeline writes, or DVC's own metadata: not a code change. Folders that
    hold an output count whole (``records/audit_head.json`` beside ``records/train.json``,
    ``dvclive/params.yaml`` beside ``dvclive/metrics.json``)."""
    if path in NOT_CODE or path.endswith(".dvc") or path.startswith(".dvc/"):
        return True
    folders = {out.rstrip("/") for out in outputs} | {
        Path(out).parent.as_posix() for out in outputs if "/" in out.rstrip("/")
    }
    return any(path == f or path.startswith(f + "/") for f in folders)


def _weights_sha256(root: str, rev: str) -> str | None:
    """``weights_sha256`` from models/model.json at ``rev``: None where DVC's cache (or a
    remote) does not hold that version of models/."""
    from dvc.api import DVCFileSystem

    def read() -> Any:
        fs = DVCFileSystem(root, rev=rev)
        return json.loads(fs.read_text(f"{MODELS_DIR}/model.json"))

    doc = _quiet(read)
    return doc.get("weights_sha256") if isinstance(doc, dict) else None


def _quiet(read):
    """``read()``, or None where the file is missing at that revision or not cached."""
    from dvc.exceptions import DvcException
    from dvc_data.index.index import DataIndexError  # a directory not in the cache

    try:
        return read()
    except (OSError, ValueError, DvcException, DataIndexError):
        return None


def _git(root: str | Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BadInputError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _git_show(root: str | Path, rev: str, path: str) -> str | None:
    result = subprocess.run(
        # "./": the path from ``root`` (the DVC project), not from the git repository's top
        ["git", "show", f"{rev}:./{path}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None
