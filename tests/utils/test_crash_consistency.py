"""A commit killed at any rename leaves every output whole, and a record either absent or
naming exactly what is on disk; the next start finishes the job and removes temporaries.

Each case is a real kill: a child process whose Nth rename calls ``os._exit``, so no
cleanup runs (as with SIGKILL), and its temporaries carry a dead process id."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assayml.utils.io import OutputBatch, md5_file
from assayml.utils.recovery import recover_records
from tests import cli_fork

CHILD = """
import os, sys
from assayml.utils import fsops
from assayml.utils.io import atomic_outputs

root, kill_at, fallback, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
calls = [0]

def counted(real):
    def call(*args):
        calls[0] += 1
        if calls[0] == kill_at:
            os._exit(137)  # killed here: no cleanup, no abort
        return real(*args)
    return call

fsops.rename = counted(fsops.rename)
fsops.exchange = (lambda a, b: False) if fallback else counted(fsops.exchange)
os.chdir(root)
with atomic_outputs() as out:
    out.own_dir("models")
    out.write_text("models/weights.bin", tag + " weights")
    out.write_text(f"models/{tag}.json", tag + " card")  # each run's folder differs in files
    out.write_text("metrics/m.json", tag + " metric")
    out.write_record("records/train.json", {"outputs": out.digests(), "tag": tag})
"""
RENAMES = {False: 4, True: 5}  # per commit: with the atomic exchange / with two renames


def commit(root: Path, tag: str, kill_at: int = 0, fallback: bool = False) -> int:
    args = [sys.executable, "-c", CHILD, str(root), str(kill_at), str(int(fallback)), tag]
    return cli_fork.run(args, capture_output=True, timeout=60).returncode


def record(root: Path) -> dict | None:
    path = root / "records" / "train.json"
    return json.loads(path.read_text()) if path.exists() else None


def assert_agree(root: Path) -> str | None:
    """The record, if any, names exactly the files on disk; returns its tag."""
    doc = record(root)
    if doc is None:
        return None
    for path, digest in doc["outputs"].items():
        assert md5_file(root / path) == digest, path
    named = {Path(p).name for p in doc["outputs"] if p.startswith("models")}
    assert {p.name for p in (root / "models").iterdir()} == named
    return doc["tag"]


def next_start(root: Path) -> None:
    """What the next stage run does before it writes: recover, claim, clean."""
    recover_records(root / "records")
    batch = OutputBatch()
    batch.own_dir(root / "models")
    batch.path(root / "metrics" / "m.json")
    batch.path(root / "records" / "train.json")
    batch.abort()


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


@pytest.mark.parametrize("fallback", [False, True], ids=["exchange", "two-renames"])
def test_a_kill_at_every_rename_leaves_outputs_and_records_agreeing(
    tmp_path, monkeypatch, fallback
):
    for kill_at in range(1, RENAMES[fallback] + 1):
        root = tmp_path / f"kill{kill_at}"
        root.mkdir()
        monkeypatch.chdir(root)  # records name outputs relative to the stage's folder
        assert commit(root, "old") == 0
        assert commit(root, "new", kill_at, fallback) == 137
        if not fallback:  # one atomic exchange: the folder is never missing
            assert (root / "models" / "weights.bin").is_file()
        assert assert_agree(root) in (None, "old", "new")
        next_start(root)
        assert assert_agree(root) in ("old", "new"), f"no record after a kill at {kill_at}"
        assert (root / "models" / "weights.bin").read_text().split()[0] == record(root)["tag"]
        assert leftovers(root) == [], kill_at
        assert commit(root, "next") == 0 and assert_agree(root) == "next"


def test_the_record_goes_last_and_its_predecessor_first(tmp_path, monkeypatch):
    """The order of renames in one commit, observed."""
    from assayml.utils import fsops

    seen = []
    real = fsops.rename
    monkeypatch.setattr(fsops, "rename", lambda a, b: (seen.append(Path(b).name), real(a, b)))
    for tag in ("old", "new"):
        seen.clear()
        batch = OutputBatch()
        batch.own_dir(tmp_path / "models")
        batch.write_text(tmp_path / "models" / "w.bin", tag)
        batch.write_text(tmp_path / "metrics.json", tag)
        batch.write_record(tmp_path / "records" / "train.json", {"outputs": {}})
        batch.commit()
    assert seen[0].endswith(".old.train.json")  # the old record leaves first
    assert seen[-2:] == ["metrics.json", "train.json"]  # the new one comes last
    assert leftovers(tmp_path) == []


def test_stale_temporaries_of_live_writers_are_left_alone(tmp_path):
    from assayml.utils import fsops

    (tmp_path / "models").mkdir()
    mine = fsops.temp_sibling(tmp_path / "models")  # this (live) process's
    mine.mkdir()
    dead = tmp_path / ".abc123.tmp.models"  # an older release's orphan: no pid
    dead.mkdir()
    assert fsops.remove_stale(tmp_path, "models") == [dead]
    assert mine.is_dir()
