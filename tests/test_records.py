"""Run records: git state that ignores the pipeline's own results, and the environment."""

from __future__ import annotations

from pathlib import Path

from assayml.records import environment, git_state
from tests.repo_helpers import git, init_repo


def test_git_state_is_dirty_for_code_changes_only(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    (repo / "metrics").mkdir()
    (repo / "metrics" / "evaluate.json").write_text("{}")
    (repo / "train.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    state = git_state(repo)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (repo / "metrics" / "evaluate.json").write_text('{"accuracy": 1}')
    assert git_state(repo)["dirty"] is False  # a new result is not a code change
    (repo / "new_output.csv").write_text("a\n")  # untracked: not a code change
    assert git_state(repo)["dirty"] is False
    (repo / "train.py").write_text("x = 2\n")
    state = git_state(repo)
    assert state["dirty"] is True and state["changed"] == ["train.py"]


def test_outside_git_the_state_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {"commit": None, "dirty": None, "changed": []}


def test_environment_names_python_platform_and_packages() -> None:
    env = environment()
    assert env["python"].count(".") == 2 and env["packages"]["numpy"]
