"""The audit trail: a hash chain that names the first tampered entry; safe concurrent appends."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assayml.audit import append, read_entries, verify
from assayml.audit.log import audit_path
from tests import cli_fork


def log_with(tmp_path: Path, n: int = 5) -> list[str]:
    for i in range(n):
        append(
            tmp_path,
            "stage.train" if i % 2 else "registry.register",
            f"churn@{i}",
            outputs={"f": str(i)},
            user="alice",
        )
    return audit_path(tmp_path).read_text().splitlines()


def rewrite(tmp_path: Path, lines: list[str]) -> None:
    audit_path(tmp_path).write_text("\n".join(lines) + "\n")


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    log_with(tmp_path)
    verdict = verify(tmp_path)
    assert verdict.intact and verdict.entries == 5


def test_an_edited_entry_is_named(tmp_path: Path) -> None:
    lines = log_with(tmp_path)
    entry = json.loads(lines[2])
    entry["user"] = "mallory"
    lines[2] = json.dumps(entry, sort_keys=True)
    rewrite(tmp_path, lines)
    verdict = verify(tmp_path)
    assert not verdict.intact and verdict.entries == 2
    assert ":3 (seq 3)" in verdict.problem and "edited" in verdict.problem


def test_a_deleted_entry_is_named(tmp_path: Path) -> None:
    lines = log_with(tmp_path)
    rewrite(tmp_path, lines[:2] + lines[3:])
    verdict = verify(tmp_path)
    assert not verdict.intact and "entries 3..3 before it were deleted" in verdict.problem


def test_an_inserted_entry_is_named(tmp_path: Path) -> None:
    lines = log_with(tmp_path)
    forged = json.loads(lines[1])
    forged["subject"] = "forged"
    from assayml.audit.log import entry_hash

    forged["hash"] = entry_hash(forged)  # a well-formed entry, but not part of the chain
    rewrite(tmp_path, [*lines[:2], json.dumps(forged, sort_keys=True), *lines[2:]])
    verdict = verify(tmp_path)
    assert not verdict.intact and ":3" in verdict.problem


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    lines = log_with(tmp_path)
    lines[1], lines[3] = lines[3], lines[1]
    rewrite(tmp_path, lines)
    verdict = verify(tmp_path)
    assert not verdict.intact and verdict.entries == 1 and ":2 (seq 4)" in verdict.problem


def test_show_filters(tmp_path: Path) -> None:
    log_with(tmp_path)
    assert len(read_entries(tmp_path, action="registry")) == 3
    assert [e["subject"] for e in read_entries(tmp_path, subject="churn@3")] == ["churn@3"]
    assert read_entries(tmp_path, since="2999-01-01") == []


WRITER = """
import sys
from assayml.audit import append
for i in range(int(sys.argv[2])):
    append(sys.argv[1], "stage.train", f"worker{sys.argv[3]}-{i}", details={"pad": "x" * 500})
"""


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    workers, each = 6, 25
    procs = [
        cli_fork.popen([sys.executable, "-c", WRITER, str(tmp_path), str(each), str(w)])
        for w in range(workers)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    lines = audit_path(tmp_path).read_text().splitlines()
    assert len(lines) == workers * each
    assert all(json.loads(line) for line in lines)  # no torn or interleaved line
    assert verify(tmp_path).intact


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    lines = log_with(tmp_path)
    cmd = [sys.executable, "-m", "assayml.cli.main", "audit", "verify"]
    ok = cli_fork.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "intact, 5 entries" in ok.stdout
    rewrite(tmp_path, lines[:1] + lines[2:])
    broken = cli_fork.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert broken.returncode == 1 and "BROKEN" in broken.stdout


@pytest.mark.parametrize("stage", ["prepare"])
def test_stage_runs_are_audited(make_cfg, project, stage) -> None:
    from tests.stages.helpers import run_stages

    record = run_stages(make_cfg(), (stage,))[stage]
    entry = read_entries(project, action=f"stage.{stage}")[-1]
    assert entry["outputs"] == record.outputs and entry["config_hash"] == record.config_hash
