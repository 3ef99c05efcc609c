"""A real `assay train` killed at any point, or at each rename of its commit, leaves a
models folder and a train record that agree; lineage never vouches for a record whose
model is not there; the next run recovers and removes the dead run's temporaries."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assayml.utils.io import md5_file
from assayml.utils.recovery import recover_records
from tests import cli_fork
from tests.conftest import TINY, cli_env
from tests.stages.helpers import run_stages

pytestmark = pytest.mark.slow

CHILD = """
import os, sys
from assayml.utils import fsops

kill_at, calls = int(sys.argv[1]), [0]

def counted(real):
    def call(*args):
        calls[0] += 1
        if calls[0] == kill_at:
            os._exit(137)  # killed at this rename: no cleanup runs
        return real(*args)
    return call

fsops.rename, fsops.exchange = counted(fsops.rename), counted(fsops.exchange)
from assayml.cli.main import main
sys.exit(main(["train", *sys.argv[2:]]))
"""
FAST = (*TINY, "trainer.max_epochs=1")
# retire the old record, exchange models/, the run's volatile facts (.assay/stage_runs/),
# the new record, the audit head
COMMIT_RENAMES = 5


@pytest.fixture
def trained(make_cfg, project: Path) -> Path:
    run_stages(make_cfg("trainer.max_epochs=1"), ("prepare", "features", "train"))
    return project


def assert_agree(root: Path) -> dict | None:
    """The train record, if there is one, names exactly the files in models/."""
    path = root / "records" / "train.json"
    assert (root / "models" / "model.safetensors").is_file()  # never missing
    if not path.exists():
        return None
    outputs = json.loads(path.read_text())["outputs"]
    for name, digest in outputs.items():
        assert md5_file(root / name) == digest, name
    assert {Path(n).name for n in outputs} == {p.name for p in (root / "models").iterdir()}
    return outputs


def lineage(root: Path) -> str:
    """What `assay lineage models` prints (the same functions, in this process)."""
    from assayml.lineage.render import as_text
    from assayml.lineage.sources import from_models_dir

    return as_text(from_models_dir(root / "models"))


def leftovers(root: Path) -> list[str]:
    hidden = [*root.glob(".*.models"), *(root / "records").glob(".*")]
    return sorted(p.name for p in hidden)


def test_a_kill_at_each_rename_of_the_commit_leaves_model_and_record_agreeing(trained):
    old = assert_agree(trained)
    for kill_at in range(1, COMMIT_RENAMES + 1):
        child = cli_fork.run(
            [sys.executable, "-c", CHILD, str(kill_at), *FAST, f"seed={kill_at}"],
            cwd=trained,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=600,
        )
        assert child.returncode == 137, child.stderr[-2000:]
        now = assert_agree(trained)
        if now is None:  # a kill between the old record leaving and the new arriving
            assert "<- train: hash link verified" not in lineage(trained)
        recover_records(trained / "records")  # what the next stage run does first
        now = assert_agree(trained)
        assert now is not None, f"no train record after a kill at rename {kill_at}"
        assert "<- train: hash link verified" in lineage(trained)
        # Killed before the new record went in: the previous model is back (rolled back).
        assert (now == old) == (kill_at < COMMIT_RENAMES)
        old = now
        assert leftovers(trained) == [], kill_at


def test_sigkill_during_train_leaves_the_old_model_and_the_next_run_cleans_up(trained):
    old = assert_agree(trained)
    proc = cli_fork.popen(
        [sys.executable, "-m", "assayml.cli.main", "train", *FAST, "seed=11"],
        cwd=trained,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
    )
    deadline = time.monotonic() + 300
    while not list(trained.glob(".*.tmp.models")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.kill()  # while it writes the new models folder
    proc.wait(timeout=60)
    # Usually still writing (the old model and record stand); a kill that lands in or
    # after the commit leaves no record or the new one, but never a disagreeing one.
    assert_agree(trained)
    rerun = cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", "train", *FAST, "seed=12"],
        cwd=trained,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert assert_agree(trained) != old and leftovers(trained) == []
    assert "<- train: hash link verified" in lineage(trained)
