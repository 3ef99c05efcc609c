"""Real git and DVC repositories in temporary folders, for tests that need versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GIT_IDENTITY = {"user.name": "assay tests", "user.email": "tests@assayml.invalid"}


def run(cwd: Path, *args: str) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def git(cwd: Path, *args: str) -> str:
    return run(cwd, "git", *args)


def dvc(cwd: Path, *args: str) -> str:
    return run(cwd, sys.executable, "-m", "dvc", *args)


def init_repo(path: Path) -> Path:
    """git init + dvc init, with a local identity and DVC analytics off."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for key, value in GIT_IDENTITY.items():
        git(path, "config", key, value)
    dvc(path, "init", "-q")
    dvc(path, "config", "core.analytics", "false")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "init")
    return path


def commit_data_version(repo: Path, rel_path: str, content: str, tag: str) -> str:
    """Write ``content`` to ``rel_path``, track it with DVC, commit, tag; returns DVC's md5."""
    target = repo / rel_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    dvc(repo, "add", "-q", rel_path)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"data {tag}")
    git(repo, "tag", tag)
    return dvc_md5(repo / f"{rel_path}.dvc")


def dvc_md5(dvc_file: Path) -> str:
    import yaml

    return yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]
