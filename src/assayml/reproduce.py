"""``assay reproduce REF``: rebuild a registered model from its record and prove it is the same.

The recorded commit is checked out in a temporary git worktree (this project's own code,
``src/``, then runs from it); the recorded config becomes its ``params.yaml``; DVC-tracked
data is checked out from this project's DVC cache (or pulled from its remote); the pipeline
stages run there in one process (prepare, features, train, evaluate); and the weights'
SHA-256, the metrics, the data hash and the config hash are compared with the record.
Differences are named by cause: code (the recorded run had uncommitted changes), data,
config, environment (package versions, Python, torch threads, CPU), or, when none of those
differ, nondeterminism.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from assayml.errors import BadInputError
from assayml.models.trust import BuilderTrust, project_trust
from assayml.records import environment

STAGES = ("prepare", "features", "train", "evaluate")
ENV_KEYS = ("python", "machine", "cpu", "cpu_count", "torch_threads", "cuda", "gpu")


def environment_differences(recorded: dict[str, Any]) -> list[str]:
    """How this machine differs from the recorded one (packages and hardware)."""
    import torch  # noqa: F401  (so that the torch environment is captured)

    now = environment()
    found = [
        f"{k}: {recorded.get(k)} -> {now.get(k)}"
        for k in ENV_KEYS
        if k in recorded and recorded.get(k) != now.get(k)
    ]
    for name, version in (recorded.get("packages") or {}).items():
        if now["packages"].get(name) != version:
            found.append(f"{name}: {version} -> {now['packages'].get(name)}")
    recorded_all, now_all = recorded.get("installed") or {}, now.get("installed") or {}
    others = [
        n
        for n in set(recorded_all) | set(now_all)
        if recorded_all.get(n) != now_all.get(n) and n not in recorded.get("packages", {})
    ]
    if others:
        found.append(
            f"{len(others)} other installed packages differ "
            f"({', '.join(sorted(others)[:5])}{', ...' if len(others) > 5 else ''})"
        )
    return found


def reproduce(
    doc: dict[str, Any], project: str | Path = ".", trust: BuilderTrust | None = None
) -> dict[str, Any]:
    """Rebuild ``doc`` (a registry version) and compare; returns the report.

    The recorded config comes from the registry, not from this project: every ``_target_``
    in it must be one ``trust`` (default: the project's) allows, or nothing runs.
    """
    meta = doc["metadata"]
    git = meta.get("git") or {}
    if not git.get("commit"):
        raise BadInputError(
            f"{doc['name']}@{doc['version']}: no git commit recorded; "
            "a model trained outside git cannot be rebuilt from its record"
        )
    if not meta.get("params"):
        raise BadInputError(f"{doc['name']}@{doc['version']}: no config recorded")
    project = Path(project).resolve()
    check_recorded_targets(meta["params"], trust or project_trust(root=project), doc)
    report: dict[str, Any] = {
        "ref": f"{doc['name']}@{doc['version']}",
        "commit": git["commit"],
        "warnings": _warnings(meta),
    }
    with tempfile.TemporaryDirectory(prefix="assay-reproduce-") as tmp:
        tree = Path(tmp) / "tree"
        _run(project, "git", "worktree", "add", "--detach", str(tree), git["commit"])
        try:
            rebuilt = _rebuild(project, tree, meta)
        finally:
            _run(project, "git", "worktree", "remove", "--force", str(tree))
    return report | compare(meta, rebuilt, report["warnings"])


def check_recorded_targets(params: Any, trust: BuilderTrust, doc: dict[str, Any]) -> None:
    """Refuse (exit 2) a recorded config naming any ``_target_`` the project does not trust:
    the rebuild would import and call it."""
    stack = [("params", params)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            if "_target_" in node:
                trust.check(node["_target_"], f"{doc['name']}@{doc['version']}: {key}._target_")
            stack += [(f"{key}.{k}", v) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(f"{key}[{i}]", v) for i, v in enumerate(node)]


def compare(meta: dict[str, Any], rebuilt: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    checks = {
        "weights": (meta.get("weights_sha256"), rebuilt["weights_sha256"]),
        "metrics": (_numbers(meta.get("metrics")), _numbers(rebuilt["metrics"])),
        "data": ((meta.get("data") or {}).get("md5"), rebuilt["data_md5"]),
        "config": (meta.get("config_hash"), rebuilt["config_hash"]),
    }
    differing = {k: {"recorded": a, "rebuilt": b} for k, (a, b) in checks.items() if a != b}
    causes = []
    if "data" in differing:
        causes.append("data")
    if "config" in differing:
        causes.append("config")
    if (meta.get("git") or {}).get("dirty"):
        causes.append("code")
    if any(w.startswith("environment") for w in warnings):
        causes.append("environment")
    if differing and not causes:
        causes.append("nondeterminism")
    return {
        "identical": not differing,
        "differences": differing,
        "causes": causes if differing else [],
    }


def _rebuild(project: Path, tree: Path, meta: dict[str, Any]) -> dict[str, Any]:
    config = meta["params"]
    (tree / "params.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    data = meta.get("data") or {}
    if data.get("source") == "file" and not data.get("rev") and (tree / ".dvc").is_dir():
        _checkout_data(project, tree)
    env = dict(os.environ)
    if (tree / "src" / "assayml").is_dir():  # this project is assayml itself: run its code
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), env.get("PYTHONPATH", "")])
    for command in stage_commands(tree):
        _run(tree, *command, env=env)
    paths = config["paths"]
    model = json.loads((tree / paths["models_dir"] / "model.json").read_text())
    records = tree / paths["records_dir"]
    return {
        "weights_sha256": model["weights_sha256"],
        "metrics": json.loads((tree / paths["metrics_dir"] / "evaluate.json").read_text()),
        "data_md5": json.loads((records / "prepare.json").read_text())["data"]["md5"],
        "config_hash": json.loads((records / "train.json").read_text())["config_hash"],
    }


def stage_commands(tree: Path) -> list[tuple[str, ...]]:
    """The processes that run STAGES in ``tree``: one (assayml.reproduce_stages), or, where
    the tree is assayml itself at a commit from before that module, one per stage."""
    own = tree / "src" / "assayml"
    if own.is_dir() and not (own / "reproduce_stages.py").is_file():
        return [
            (sys.executable, "-m", "assayml.cli.main", stage, "--params", "params.yaml")
            for stage in STAGES
        ]
    return [(sys.executable, "-m", "assayml.reproduce_stages", "params.yaml", *STAGES)]


def _checkout_data(project: Path, tree: Path) -> None:
    """The DVC-tracked data files (``*.dvc``) of the recorded commit, from this project's
    DVC cache, or from its remote when the cache lacks them. Pipeline outputs are not
    checked out: the rebuild makes them."""
    targets = [str(p.relative_to(tree)) for p in tree.rglob("*.dvc") if p.is_file()]
    if not targets:
        return
    dvc = (sys.executable, "-m", "dvc")
    _run(tree, *dvc, "cache", "dir", "--local", str(project / ".dvc" / "cache"))
    checkout = subprocess.run(
        [*dvc, "checkout", "-q", *targets], cwd=tree, capture_output=True, text=True
    )
    if checkout.returncode != 0:
        _run(tree, *dvc, "pull", "-q", *targets)


def _warnings(meta: dict[str, Any]) -> list[str]:
    warnings = []
    git = meta.get("git") or {}
    if git.get("dirty"):
        changed = ", ".join(git.get("changed") or []) or "unknown files"
        warnings.append(
            f"code: the recorded run had uncommitted changes ({changed}); the "
            "rebuild uses the commit as it was"
        )
    if git.get("recorded") == "registration":
        warnings.append(
            "code: no record of the training run was found when this version was registered "
            "(DVC restored the model from its cache, or it came from another clone): the "
            "commit and environment are those at registration, whose dvc.lock produced "
            "these outputs"
        )
    warnings += [
        f"environment: {d}" for d in environment_differences(meta.get("environment") or {})
    ]
    return warnings


def _numbers(metrics: dict | None) -> dict[str, float]:
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float))}


def _run(cwd: Path, *args: str, env: dict | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BadInputError(f"`{' '.join(args)}` failed in {cwd}:\n{result.stderr[-2000:]}")
    return result.stdout
