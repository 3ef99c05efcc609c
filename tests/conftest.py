"""Shared fixtures: a project folder per test (conf/ copied, cwd set) and tiny configs.

Tests compose the real config tree once per call and shrink the run (few epochs, no
progress bar, outputs under tmp_path), as lightning-hydra-template's tests do.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

# One intra-op thread per test process and its subprocesses, set before torch loads: the
# tests' networks are tiny, so a second thread gains nothing, and with two pytest-xdist
# workers on 2 cores, four threads spun against each other (a 30-epoch training took 16 s
# instead of 5). Weights are bit-identical either way (checked for the default MLP).
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from assayml.cli.main import collect_less  # noqa: E402
from assayml.config import compose, to_typed  # noqa: E402
from assayml.config.schema import AssayConfig  # noqa: E402
from tests import cli_fork  # noqa: E402

collect_less()

REPO = Path(__file__).resolve().parents[1]
TINY = ("trainer.max_epochs=3", "trainer.enable_progress_bar=false", "logger=none")


def pytest_configure(config: pytest.Config) -> None:
    """Each process that runs tests gets its zygote for `assay` processes (tests.cli_fork);
    an xdist controller runs none."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", default=None):
        cli_fork.start()


# The modules that took longest in a full run (seconds on 2 cores, 2026-12-02, --durations=0),
# longest first. Only an order for handing out work: a module missing here or grown since
# is still run, just scheduled as others are.
LONGEST_MODULES = (
    "tests/stages/test_dvc_pipeline.py",  # 75
    "tests/stages/test_user_modules.py",  # 62
    "tests/train/test_ddp.py",  # 58
    "tests/forget/test_forget_command.py",  # 53
    "tests/experiments/test_compare_commits.py",  # 52
    "tests/cli/test_sweeps.py",  # 51
    "tests/train/test_fit.py",  # 40
    "tests/governance/test_retrain_loop.py",  # 37
    "tests/cli/test_cli.py",  # 31
    "tests/serve/test_variants.py",  # 30
    "tests/governance/test_reproduce.py",  # 27
    "tests/cli/test_sweep_jobs.py",  # 27
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest modules first, then the others by their number of tests, each module kept
    whole and in its own order. pytest-xdist (``--dist loadscope --no-loadscope-reorder``)
    hands modules to its workers in this order; ordered by number of tests alone, a long
    module with few tests came last and kept one core busy alone for most of a minute."""
    counts = Counter(item.nodeid.split("::")[0] for item in items)

    def rank(item: pytest.Item) -> tuple[int, int]:
        module = item.nodeid.split("::")[0]
        if module in LONGEST_MODULES:
            return (LONGEST_MODULES.index(module), 0)
        return (len(LONGEST_MODULES), -counts[module])

    items.sort(key=rank)  # stable: the order within a module stays


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project root holding a copy of conf/ (data=file with a complete data card);
    the working directory for the test."""
    from tests.card_helpers import fill_file_card

    shutil.copytree(REPO / "conf", tmp_path / "conf")
    fill_file_card(tmp_path / "conf")
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


@pytest.fixture(autouse=True)
def _verbosity_stays_put():
    """A test that runs `assay -v` in this process sets ASSAY_VERBOSITY for the processes
    it starts; put it back so that later tests' subprocesses run at the normal level."""
    saved = os.environ.get("ASSAY_VERBOSITY")
    yield
    if saved is None:
        os.environ.pop("ASSAY_VERBOSITY", None)
    else:
        os.environ["ASSAY_VERBOSITY"] = saved


def cli_env() -> dict[str, str]:
    """Environment for running `assay` in a subprocess: no colour, no terminal tricks."""
    env = dict(os.environ)
    env.update(NO_COLOR="1", TERM="dumb", PYTHONWARNINGS="ignore")
    return env


CREDIT = (
    "data=credit_synthetic",
    "data.n_rows=2000",
    "model=logreg",
    "trainer.max_epochs=15",
    "explain.samples=100",
    "explain.global_rows=60",
    "explain.permutation_repeats=3",
)


@pytest.fixture(scope="session")
def reproduced_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This project's pipeline in a git + DVC repository, `dvc repro` run once and committed
    (per test process): (its folder, that repro's output). Tests work on a copy
    (:func:`tests.repo_helpers.copy_repo`); a full repro costs a minute of stage processes."""
    from tests.repo_helpers import dvc_run, git, make_project_repo

    repo = make_project_repo(tmp_path_factory.mktemp("reproduced") / "repo")
    output = dvc_run(repo, "repro").stdout
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline run")
    return repo, output


@pytest.fixture(scope="session")
def credit_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project trained once on the credit data, explained and baselined: what the
    predict, serve and monitor tests deploy. Tests write their outputs under their own
    tmp_path, never into it."""
    from assayml.stages.table import get_stage

    root = tmp_path_factory.mktemp("credit")
    shutil.copytree(REPO / "conf", root / "conf")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = to_typed(compose([*TINY, *CREDIT], root / "conf"))
        for name in ("prepare", "features", "train", "explain", "baseline"):
            get_stage(name).run(cfg)
    return root


DIGITS = (
    "experiment=digits_folder",
    "trainer.max_epochs=2",
    "explain.steps=50",
    "explain.rows=first:2",
)


def digits_cfg(root: Path, *overrides: str):
    return to_typed(compose([*TINY, *DIGITS, *overrides], root / "conf"))


@pytest.fixture(scope="session")
def digits_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits-folder example (a user LightningDataModule and LightningModule) run once
    through every pipeline stage; tests write under their own tmp_path, never into it."""
    from assayml.stages.table import STAGE_NAMES, get_stage

    root = tmp_path_factory.mktemp("digits_folder")
    shutil.copytree(REPO / "conf", root / "conf")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        cfg = digits_cfg(root)
        for name in STAGE_NAMES:
            get_stage(name).run(cfg)
    return root
