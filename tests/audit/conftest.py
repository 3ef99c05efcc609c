"""Audit tests: a key location of the test's own, never the developer's real key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assayml.audit import append
from assayml.audit.log import audit_path


@pytest.fixture(autouse=True)
def key_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where `assay audit init` makes the key: outside every test project."""
    path = tmp_path_factory.mktemp("keys") / "audit.key"
    monkeypatch.setenv("ASSAY_AUDIT_KEY_FILE", str(path))
    monkeypatch.delenv("ASSAY_AUDIT_KEY", raising=False)
    return path


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git work tree (what the chain head is committed to)."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "assay tests")
    git(root, "config", "user.email", "tests@assayml.invalid")
    return root


def fill(root: Path, n: int = 5) -> list[str]:
    for i in range(n):
        append(root, "stage.train" if i % 2 else "registry.register", f"churn@{i}", user="alice")
    return audit_path(root).read_text().splitlines()


def commit_head(root: Path, message: str = "records") -> None:
    git(root, "add", "records/audit_head.json")
    git(root, "commit", "-qm", message)


def write_lines(root: Path, lines: list[str]) -> None:
    audit_path(root).write_text("\n".join(lines) + "\n" if lines else "")
