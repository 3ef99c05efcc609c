"""The registry mirrored for DVC's tooling: `gto show` lists the versions and stages that
`assay registry` holds, dvc.yaml declares the artifact; where GTO cannot follow (outside
git, a second version on one commit, a name GTO refuses) the registry still works and the
command says the tags were not written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assayml.registry.gto import _with_entry
from assayml.registry.store import Registry
from tests.conftest import REPO
from tests.repo_helpers import git, init_repo
from tests.trust_helpers import copy_models

DVC_YAML = """\
# the pipeline (a comment that must survive)
stages:
  noop:
    cmd: echo ok
"""


@pytest.fixture
def repo(tmp_path: Path, credit_project: Path) -> Path:
    """A git + DVC repository holding conf/, a dvc.yaml and a trained models/, committed."""
    root = init_repo(tmp_path / "repo")
    shutil.copytree(REPO / "conf", root / "conf")
    copy_models(credit_project, root / "models")
    (root / "dvc.yaml").write_text(DVC_YAML)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "model")
    return root


def assay(cwd: Path, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``assay ARGS`` in this process from ``cwd``: (exit code, stdout, stderr)."""
    from assayml.cli.main import main

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def gto_show(repo: Path, *args: str):
    gto = Path(sys.executable).parent / "gto"
    result = subprocess.run(
        [str(gto), "show", *args, "--json"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gto_show_lists_the_registered_versions_and_stages(repo, monkeypatch, capsys) -> None:
    def cli(*args: str) -> str:
        code, _, err = assay(repo, monkeypatch, capsys, "registry", *args)
        assert code == 0, err
        return err

    note = cli("register", "models", "--name", "churn")
    assert "tagged churn@v1.0.0" in note and "not pushed" in note
    assert "dvc.yaml artifacts: declares churn" in note
    text = (repo / "dvc.yaml").read_text()
    assert text.startswith(DVC_YAML)  # appended: layout and comments kept
    from dvc.repo import Repo

    declared = Repo(str(repo)).artifacts.read()["dvc.yaml"]["churn"]
    assert (declared.type, declared.path) == ("model", "models")
    git(repo, "add", "dvc.yaml")
    git(repo, "commit", "-qm", "declare the artifact")  # a second commit: a second version
    assert "tagged churn@v2.0.0" in cli("register", "models", "--name", "churn")
    for version in ("1", "2"):
        cli("approve", "churn", version, "--reason", "ok")
    cli("promote", "churn", "2", "--stage", "production")
    cli("promote", "churn", "1", "--stage", "staging")

    ours = {d["version"]: d["stage"] for d in Registry(repo / "registry").versions("churn")}
    assert ours == {1: "staging", 2: "production"}
    assert gto_show(repo)["churn"] == {
        "version": "v2.0.0",
        "stage": {"production": "v2.0.0", "staging": "v1.0.0"},
        "registered": True,
        "active": True,
    }
    assert {v["version"] for v in gto_show(repo, "churn")} == {"v1.0.0", "v2.0.0"}

    # Promoting v1 to production demotes v2 and takes v1 out of staging, in GTO too.
    assert "churn@v2.0.0 left production" in cli("promote", "churn", "1", "--stage", "production")
    assert gto_show(repo)["churn"]["stage"] == {"production": "v1.0.0"}
    # Archived: deregistered in GTO, which then lists only v1.
    assert "churn@v2.0.0 deregistered" in cli("archive", "churn", "2", "--reason", "old")
    assert [v["version"] for v in gto_show(repo, "churn")] == ["v1.0.0"]
    # GTO's own tag forms; approvals stay ours: approving writes no tag.
    tags = git(repo, "tag", "-l").split()
    assert {"churn@v1.0.0", "churn@v2.0.0", "churn@v2.0.0!", "churn#production#1"} <= set(tags)
    # v1 leaves staging (#3) and v2 production (#4) before v1 enters production (#5).
    assert {"churn#staging!#3", "churn#production!#4", "churn#production#5"} <= set(tags)
    cli("approve", "churn", "2", "--reason", "again")
    assert git(repo, "tag", "-l").split() == tags
    audit = (repo / "audit" / "audit.jsonl").read_text()
    assert '"gto": "GTO: tagged churn@v1.0.0' in audit
    assert git(repo, "remote").strip() == ""  # nothing pushed anywhere


def test_one_version_per_commit_is_said_not_forced(repo, monkeypatch, capsys) -> None:
    for _ in range(2):
        code, out, err = assay(
            repo, monkeypatch, capsys, "registry", "register", "models", "--name", "churn"
        )
        assert code == 0, err
    assert out.strip() == "churn@2: PendingManualApproval"
    assert "GTO: tags not written (commit" in err and "already holds churn@v1.0.0" in err
    assert "gto register churn HEAD --version v2.0.0" in err
    assert [v["version"] for v in gto_show(repo, "churn")] == ["v1.0.0"]
    assert len(Registry(repo / "registry").versions("churn")) == 2


def test_outside_git_the_registry_works_and_says_so(
    tmp_path, credit_project, monkeypatch, capsys
) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO / "conf", project / "conf")
    copy_models(credit_project, project / "models")
    code, out, err = assay(
        project, monkeypatch, capsys, "registry", "register", "models", "--name", "churn"
    )
    assert code == 0, err
    assert out.strip() == "churn@1: PendingManualApproval"
    assert err.strip().startswith("GTO: tags not written (") and "not in a git repository" in err
    assert len(err.strip().splitlines()) == 1
    assert Registry(project / "registry").get("churn", 1)["status"] == "PendingManualApproval"
    assert not (project / "dvc.yaml").exists()


def test_a_name_gto_refuses_is_registered_and_named(repo, monkeypatch, capsys) -> None:
    code, _, err = assay(
        repo, monkeypatch, capsys, "registry", "register", "models", "--name", "churn.eu"
    )
    assert code == 0, err
    assert "'churn.eu' is not a name GTO accepts" in err
    assert git(repo, "tag", "-l").strip() == ""
    assert Registry(repo / "registry").get("churn.eu", 1)


ENTRY = "  churn:\n    type: model\n    path: models\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stages: {}\n", "stages: {}\nartifacts:\n" + ENTRY),
        (
            "artifacts:\n    other:\n        path: x\nstages: {}\n",
            "artifacts:\n    churn:\n      type: model\n      path: models\n"
            "    other:\n        path: x\nstages: {}\n",
        ),
        ("artifacts:\nstages: {}\n", "artifacts:\n" + ENTRY + "stages: {}\n"),
        ("artifacts: {other: {path: x}}\n", None),  # a flow mapping: left alone, said so
    ],
)
def test_dvc_yaml_gets_the_entry_without_rewriting_the_file(text, expected) -> None:
    import yaml

    updated = _with_entry(text, ENTRY, "artifacts" in yaml.safe_load(text))
    assert updated == expected
    if expected is not None:
        assert yaml.safe_load(updated)["artifacts"]["churn"]["path"] == "models"
