"""Real git and DVC repositories in temporary folders, for tests that need versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import cli_fork

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
    dvc_init(path)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "init")
    return path


# What `dvc init` then `dvc config core.analytics false` write in a git repository,
# from the first real run in this process; later repositories get a copy. Each of those
# commands is a fresh interpreter spending ~0.8 s on DVC's imports, and the suite makes
# dozens of repositories. Those three files are all the two commands leave besides
# .dvc/tmp, DVC's scratch space, which it makes again when it needs it.
DVC_INIT_FILES = (".dvc/config", ".dvc/.gitignore", ".dvcignore")
_dvc_init_template: dict[str, bytes] = {}


def dvc_init(path: Path) -> None:
    """``dvc init -q`` and DVC analytics off, in the git repository ``path``."""
    assert not (path / ".dvc").exists(), f"{path} is a DVC repository already"
    if not _dvc_init_template:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            git(Path(scratch), "init", "-q")
            dvc(Path(scratch), "init", "-q")
            dvc(Path(scratch), "config", "core.analytics", "false")
            made = {str(p.relative_to(scratch)) for p in Path(scratch).rglob("*") if p.is_file()}
            made = {name for name in made if not name.startswith((".git/", ".dvc/tmp/"))}
            assert made == set(DVC_INIT_FILES), f"dvc init now writes {sorted(made)}"
            _dvc_init_template.update({n: (Path(scratch) / n).read_bytes() for n in made})
    for name, content in _dvc_init_template.items():
        (path / name).parent.mkdir(exist_ok=True)
        (path / name).write_bytes(content)


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


PROJECT_FILES = ("conf", "src", "dvc.yaml", "pyproject.toml", "data/raw/README.md")


def cli_path_env() -> dict[str, str]:
    """The environment for DVC and `assay` subprocesses: this interpreter's scripts first
    (DVC stage commands call `assay`), after the zygote's `assay` shim where there is one
    (tests.cli_fork), no colour, DVC analytics off."""
    import os

    from tests import cli_fork

    env = dict(os.environ)
    scripts = [*cli_fork.shim_folders(), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*scripts, env.get("PATH", "")])
    env.update(NO_COLOR="1", TERM="dumb", DVC_NO_ANALYTICS="1", PYTHONWARNINGS="ignore")
    return env


def make_project_repo(path: Path, max_epochs: int = 3) -> Path:
    """A git + DVC repository holding this project's pipeline (conf/, dvc.yaml, src/ for
    the code deps), with training shrunk to ``max_epochs`` and params.yaml composed."""
    import shutil

    from tests.conftest import REPO

    path.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source, target = REPO / name, path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    (path / ".gitignore").write_text((REPO / ".gitignore").read_text())
    trainer = path / "conf" / "trainer" / "cpu.yaml"
    trainer.write_text(
        trainer.read_text()
        .replace("max_epochs: 30", f"max_epochs: {max_epochs}")
        .replace("enable_progress_bar: true", "enable_progress_bar: false")
    )
    run_env(path, "git", "init", "-q", "-b", "main")
    for key, value in GIT_IDENTITY.items():
        git(path, "config", key, value)
    dvc_init(path)
    shutil.copy2(REPO / ".dvc" / "config", path / ".dvc" / "config")  # hydra enabled
    run_env(path, sys.executable, "-m", "assayml.cli.main", "compose")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "project")
    return path


def run_env(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with :func:`cli_path_env`; raise with its output if it fails."""
    result = cli_fork.run(
        args, cwd=cwd, capture_output=True, text=True, env=cli_path_env(), timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def dvc_run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_env(cwd, sys.executable, "-m", "dvc", *args, check=check)


def copy_repo(source: Path, target: Path) -> Path:
    """A copy of a git + DVC repository (its history, DVC cache and workspace): each test
    works on its own while the reproduced original is built once."""
    import shutil

    shutil.copytree(source, target, symlinks=True)
    return target
