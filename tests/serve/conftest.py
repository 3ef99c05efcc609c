"""Starting a real `assay serve` process on 127.0.0.1 and waiting until it answers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import cli_fork
from tests.conftest import cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(cwd: Path, *args: str, wait_s: float = 90) -> tuple[subprocess.Popen, str]:
    """`assay serve ARGS --port FREE` in ``cwd``; returns the process and its base URL once
    ``GET /health`` answers 200 (the test fails if it exits or stays silent)."""
    port = free_port()
    process = cli_fork.popen(
        [*ASSAY, "serve", *args, "--port", str(port)],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            # verify=False: plain HTTP to 127.0.0.1, and httpx would otherwise load the CA
            # bundle for every client it makes (30-40 ms each; a server start polls often)
            if httpx.get(f"{url}/health", timeout=1, verify=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            if process.poll() is not None:
                pytest.fail(f"assay serve exited: {process.stderr.read()}")
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"assay serve did not answer /health within {wait_s:.0f} s")


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="session")
def second_model(credit_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The credit model trained again with another seed (other weights, the same data and
    schema): a models folder, for variants, shadows and swaps."""
    from assayml.config import compose, to_typed
    from assayml.stages.table import get_stage
    from tests.conftest import CREDIT, TINY

    root = tmp_path_factory.mktemp("credit_seed7")
    for part in ("conf", "data", "artifacts", "records"):
        shutil.copytree(credit_project / part, root / part)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        get_stage("train").run(to_typed(compose([*TINY, *CREDIT, "seed=7"], root / "conf")))
    return root / "models"


@pytest.fixture
def two_versions(credit_project: Path, second_model: Path, tmp_path: Path) -> Path:
    """A fresh registry holding credit v1 (the session's model, in production) and v2 (the
    seed-7 model, approved, in no stage); returns the registry folder."""
    registry = tmp_path / "registry"
    base = ("registry", "--registry", str(registry))
    for folder in (credit_project / "models", second_model):
        done = assay(credit_project, *base, "register", str(folder), "--name", "credit")
        assert done.returncode == 0, done.stderr
    for version in ("1", "2"):
        assay(credit_project, *base, "approve", "credit", version, "--reason", "validated")
    done = assay(credit_project, *base, "promote", "credit", "1", "--stage", "production")
    assert done.returncode == 0, done.stderr
    return registry
