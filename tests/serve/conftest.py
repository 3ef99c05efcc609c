"""Starting a real `assay serve` process on 127.0.0.1 and waiting until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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
    process = subprocess.Popen(
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
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            if process.poll() is not None:
                pytest.fail(f"assay serve exited: {process.stderr.read()}")
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"assay serve did not answer /health within {wait_s:.0f} s")
