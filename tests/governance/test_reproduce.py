"""`assay reproduce`: a registered model rebuilt from its record in a clean worktree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.repo_helpers import copy_repo, dvc_run, git, make_project_repo, run_env

ASSAY = ("python", "-m", "assayml.cli.main")


@pytest.mark.slow
def test_a_registered_model_is_rebuilt_identical(
    reproduced_repo: tuple[Path, str], tmp_path: Path
) -> None:
    repo = copy_repo(reproduced_repo[0], tmp_path / "repo")  # reproduced and committed
    run_env(repo, *ASSAY, "registry", "register", "models", "--name", "churn")
    result = run_env(repo, *ASSAY, "reproduce", "churn@1", "--json", check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["identical"] and report["differences"] == {}
    assert not [w for w in report["warnings"] if w.startswith("code")]  # a clean tree
    audit = (repo / "audit" / "audit.jsonl").read_text()
    assert '"action": "reproduce"' in audit and '"identical": true' in audit


@pytest.mark.slow
def test_data_that_was_never_committed_is_named(tmp_path: Path) -> None:
    """Trained on a workspace version of the data that no commit holds: the rebuild from the
    recorded commit reads the committed data, and the report names data as the cause."""
    repo = make_project_repo(tmp_path / "repo")
    (repo / "conf" / "data" / "loans.yaml").write_text(
        (REPO / "tests" / "cli" / "loans.yaml").read_text()
    )
    rows = (REPO / "tests" / "cli" / "loans.csv").read_text().splitlines(keepends=True)
    (repo / "data" / "raw" / "loans.csv").write_text("".join(rows[:401]))
    dvc_run(repo, "add", "-q", "data/raw/loans.csv")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data v1")
    (repo / "data" / "raw" / "loans.csv").write_text("".join(rows))  # v2, not committed
    run_env(repo, *ASSAY, "run", "data=loans", "explain.counterfactual_rows=0")
    run_env(repo, *ASSAY, "registry", "register", "models", "--name", "loans")
    result = run_env(repo, *ASSAY, "reproduce", "loans@1", check=False)
    assert result.returncode == 3, result.stderr
    assert "NOT reproduced" in result.stdout and "data" in result.stdout


def test_the_rebuild_runs_its_stages_in_one_process_unless_the_tree_predates_that(
    tmp_path: Path,
) -> None:
    """One process for the four stages; where the worktree is assayml itself at a commit
    without assayml.reproduce_stages, the stage commands DVC runs, one each."""
    import sys

    from assayml.reproduce import STAGES, stage_commands

    one = [(sys.executable, "-m", "assayml.reproduce_stages", "params.yaml", *STAGES)]
    assert stage_commands(tmp_path) == one  # a user's project: the installed assayml
    own = tmp_path / "src" / "assayml"
    own.mkdir(parents=True)
    assert [c[3] for c in stage_commands(tmp_path)] == list(STAGES)
    assert all(
        c[2:] == ("assayml.cli.main", c[3], "--params", "params.yaml")
        for c in stage_commands(tmp_path)
    )
    (own / "reproduce_stages.py").write_text("")
    assert stage_commands(tmp_path) == one


def test_the_rebuild_process_names_a_bad_params_file(project: Path, capsys, monkeypatch) -> None:
    import os
    import sys

    from assayml.reproduce_stages import main

    monkeypatch.setattr(sys, "path", list(sys.path))  # it makes the project importable
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    assert main(["missing.yaml", "prepare"]) == 2
    err = capsys.readouterr().err
    assert "assay reproduce: prepare: error: missing.yaml: no such params file" in err
    for argv in (["params.yaml"], ["params.yaml", "prepare", "trian"]):
        assert main(argv) == 2
        assert "usage: python -m assayml.reproduce_stages PARAMS STAGE" in capsys.readouterr().err
