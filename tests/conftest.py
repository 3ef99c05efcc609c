"""Shared fixtures: a project folder per test (conf/ copied, cwd set) and tiny configs.

Tests compose the real config tree once per call and shrink the run (few epochs, no
progress bar, outputs under tmp_path), as lightning-hydra-template's tests do.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from assayml.config import compose, to_typed
from assayml.config.schema import AssayConfig

REPO = Path(__file__).resolve().parents[1]
TINY = ("trainer.max_epochs=3", "trainer.enable_progress_bar=false", "logger=none")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project root holding a copy of conf/; the working directory for the test."""
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def make_cfg(project: Path) -> Callable[..., AssayConfig]:
    """Compose conf/ with the tiny-run overrides plus the test's own."""

    def make(*overrides: str) -> AssayConfig:
        return to_typed(compose([*TINY, *overrides], project / "conf"))

    return make


@pytest.fixture(autouse=True)
def _quiet_lightning():
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
        yield


def cli_env() -> dict[str, str]:
    """Environment for running `assay` in a subprocess: no colour, no terminal tricks."""
    env = dict(os.environ)
    env.update(NO_COLOR="1", TERM="dumb", PYTHONWARNINGS="ignore")
    return env
