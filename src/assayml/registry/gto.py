"""Our registry, mirrored where DVC's model registry looks: GTO's git tags and the
``artifacts:`` section of ``dvc.yaml``, so ``gto show`` (and DVC Studio, ``dvc artifacts
get``) list the same versions and stages as ``assay registry list``.

What is mirrored, and how:

* ``register`` (version N of NAME) -> the annotated tag ``NAME@vN.0.0`` on the commit checked
  out (HEAD), and ``NAME`` declared under ``artifacts:`` in ``dvc.yaml`` (``type: model``,
  ``path``: the registered folder, relative to the repository) when it is not declared yet.
  Our whole numbers map to majors (``vN.0.0``): each registered version is another model,
  no compatibility promise, and GTO's semver order (``latest``) stays our order.
* ``promote`` / ``reject`` / ``archive`` -> GTO's stage tags (``NAME#stage#K``, and
  ``NAME#stage!#K`` when a version leaves a stage, as when promoting another demotes it);
  ``archive`` also deregisters the version (``NAME@vN.0.0!``), so ``gto show`` hides it
  as ``assay registry list`` shows it archived.

Approvals, reviews, evidence and the files stay in our registry: GTO knows nothing of them
(a GTO stage tag is written only for what our registry already decided). Tags are local:
nothing is pushed (``git push origin --tags`` when you choose to).

GTO allows one version of an artifact per commit (the commit's ``dvc.lock`` holds one
``models/``), and its names are stricter than ours (no ``.``). Where GTO cannot follow (not
a git repository, no commit yet, a name GTO refuses, HEAD already holding a version, git
refusing), our registry still records the change and the command prints one line saying
that GTO tags were not written and why. Written with GTO's own API (shipped with DVC), so
the tags are exactly GTO's format.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from assayml.utils.io import atomic_outputs

__all__ = ["gto_version", "mirror"]


class NotMirrored(Exception):
    """Why GTO's tags were not written (said to the user, the command still succeeds)."""


def gto_version(version: int) -> str:
    """Our version N as GTO's semver: ``vN.0.0``."""
    return f"v{version}.0.0"


def mirror(
    action: str,
    doc: dict[str, Any],
    docs: list[dict[str, Any]],
    user: str,
    models_dir: str | Path | None = None,
    cwd: str | Path = ".",
) -> str:
    """Mirror ``action`` on ``doc`` into GTO's tags and ``dvc.yaml``, with ``docs`` (every
    version of its model, after the change) for the stages; returns one line saying what
    was written, or why nothing was ("" when GTO already agrees). Never raises: our
    registry has already recorded the change."""
    name, done, failure = doc["name"], [], ""
    try:
        root, head = _git_head(Path(cwd))
        _check_gto_name(name)
        from gto.registry import GitRegistry

        with GitRegistry.from_url(str(root)) as reg:
            if action == "register":
                done.append(_register(reg, doc, head, user))
                done.append(_declare(root, name, models_dir))
            done += _sync_stages(reg, name, docs, user)
    except NotMirrored as why:
        failure = str(why)
    except Exception as err:  # a git or GTO failure must not undo a stored version
        failure = f"{type(err).__name__}: {err}"
    done = [d for d in done if d]
    if failure:
        said = " ".join(failure.split())  # one line, whatever the error's layout
        if done:
            return f"GTO: {'; '.join(done)}; then stopped ({said}); the registry recorded it"
        return f"GTO: tags not written ({said}); the registry recorded it"
    return ("GTO: " + "; ".join(done) + " (local tags, not pushed)") if done else ""


def _git_head(cwd: Path) -> tuple[Path, str]:
    """(repository root, HEAD's commit) of the repository ``cwd`` is in."""
    try:
        top = _git(cwd, "rev-parse", "--show-toplevel")
    except FileNotFoundError as err:
        raise NotMirrored("git is not installed") from err
    except subprocess.CalledProcessError as err:
        raise NotMirrored(f"{cwd.resolve()} is not in a git repository") from err
    try:
        head = _git(cwd, "rev-parse", "--verify", "HEAD^{commit}")
    except subprocess.CalledProcessError as err:
        raise NotMirrored("the git repository has no commit yet") from err
    return Path(top), head


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def _check_gto_name(name: str) -> None:
    from gto.constants import check_string_is_valid

    if not check_string_is_valid(name):
        raise NotMirrored(
            f"'{name}' is not a name GTO accepts: letters, digits, '-', '_', "
            "starting and ending with a letter or digit"
        )


def _register(reg, doc: dict[str, Any], head: str, user: str) -> str:
    name, version = doc["name"], gto_version(doc["version"])
    artifact = reg.find_artifact(name, create_new=True)
    held = [v.version for v in artifact.versions if v.commit_hexsha == head]
    if held:
        raise NotMirrored(
            f"commit {head[:7]} already holds {name}@{held[0]} and GTO allows one version "
            f"per commit; commit this model, then: gto register {name} HEAD --version {version}"
        )
    weights = (doc["metadata"].get("weights_sha256") or "")[:12]
    reg.register(
        name,
        head,
        version=version,
        message=f"assay registry {name}@{doc['version']} (weights sha256 {weights}...), "
        f"by {user}; approvals and evidence: assay registry show {name} {doc['version']}",
        simple=True,  # the tag churn@v1.0.0, as `gto register` writes it
        author=user,
    )
    return f"tagged {name}@{version} at {head[:7]}"


def _sync_stages(reg, name: str, docs: list[dict[str, Any]], user: str) -> list[str]:
    """GTO's stage assignments and registrations made equal to ours (only for versions
    that have a GTO tag: an untagged one is named, not tagged now). Stages are left
    before any is entered, so GTO's history never holds two versions in one stage."""
    tagged = {v.version: v for v in reg.find_artifact(name, create_new=True).versions}
    leave, enter, retire, untagged = [], [], [], []
    for doc in docs:
        version = gto_version(doc["version"])
        found = tagged.get(version)
        want = set() if doc.get("archived") or not doc["stage"] else {doc["stage"]}
        if found is None:
            untagged += [f"{name}@{version}"] if want else []
            continue
        have = {s.stage for s in found.get_vstages()}
        why = f"assay registry {name}@{doc['version']}: {doc['history'][-1]['action']}, by {user}"
        leave += [(version, stage, why) for stage in sorted(have - want)]
        enter += [(version, stage, why) for stage in sorted(want - have)]
        retire += [(version, why)] if doc.get("archived") and found.is_active else []
    done = []
    for version, stage, why in leave:
        reg.unassign(name, stage=stage, version=version, message=why, simple=False, author=user)
        done.append(f"{name}@{version} left {stage}")
    for version, stage, why in enter:
        reg.assign(name, stage, version=version, message=why, simple=False, author=user)
        done.append(f"{name}@{version} -> {stage}")
    for version, why in retire:
        reg.deregister(name, version=version, message=why, simple=True, author=user)
        done.append(f"{name}@{version} deregistered")
    if untagged:
        done.append(f"{', '.join(untagged)} has no GTO version tag, its stage is not mirrored")
    return done


def _declare(root: Path, name: str, models_dir: str | Path | None) -> str:
    """``name`` declared under ``artifacts:`` in the repository's ``dvc.yaml`` (appended as
    text, so the file's own layout and comments stay as they are); an existing declaration
    is left alone, whatever it says."""
    dvc_yaml = root / "dvc.yaml"
    if models_dir is None or not dvc_yaml.is_file():
        return "" if models_dir is None else "no dvc.yaml, artifact not declared"
    folder = Path(models_dir).resolve()
    if not folder.is_relative_to(root.resolve()):
        return f"{folder} is outside the repository, not declared in dvc.yaml"
    text = dvc_yaml.read_text(encoding="utf-8")
    loaded = yaml.safe_load(text) or {}
    artifacts = loaded.get("artifacts")
    if isinstance(artifacts, dict) and name in artifacts:
        return ""
    declared = {
        "type": "model",
        "path": folder.relative_to(root.resolve()).as_posix(),
        "desc": f"approvals, evidence and files: assay registry list {name}",
        "labels": ["assayml"],
    }
    dumped = yaml.safe_dump({name: declared}, sort_keys=False, default_flow_style=False)
    entry = "".join(f"  {line}" for line in dumped.splitlines(keepends=True))
    updated = _with_entry(text, entry, "artifacts" in loaded)
    if updated is None or name not in ((yaml.safe_load(updated) or {}).get("artifacts") or {}):
        return "dvc.yaml's artifacts: section has a layout this cannot extend, not declared"
    with atomic_outputs() as out:
        out.write_text(dvc_yaml, updated)
    return f"dvc.yaml artifacts: declares {name} (commit dvc.yaml with the next model)"


def _with_entry(text: str, entry: str, has_section: bool) -> str | None:
    if not has_section:
        return text + ("" if text.endswith("\n") else "\n") + "artifacts:\n" + entry
    lines = text.splitlines(keepends=True)
    heads = [i for i, line in enumerate(lines) if line.rstrip() == "artifacts:"]
    if len(heads) != 1:
        return None
    following = [ln for ln in lines[heads[0] + 1 :] if ln.strip()]
    if following and following[0].startswith(" ") and not following[0].startswith("  "):
        return None
    indent = len(following[0]) - len(following[0].lstrip(" ")) if following else 2
    if indent and indent != 2:
        entry = "".join(" " * (indent - 2) + ln for ln in entry.splitlines(keepends=True))
    return "".join(lines[: heads[0] + 1]) + entry + "".join(lines[heads[0] + 1 :])
