"""A torn log stops a command before it writes anything; repair records what it did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assayml.audit import append, verify
from assayml.audit.log import audit_path
from assayml.audit.repair import repair
from tests import cli_fork
from tests.audit.conftest import fill, write_lines
from tests.conftest import TINY, cli_env

TORN = b'{"action": "stage.train", "seq": 6, "ha'


def assay(root: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )


def tear(root: Path) -> None:
    with open(audit_path(root), "ab") as handle:
        handle.write(TORN)


@pytest.mark.slow
def test_a_torn_log_stops_a_stage_before_it_writes_then_repair_lets_it_run(project) -> None:
    fill(project)
    tear(project)
    stopped = assay(project, "prepare", *TINY)
    assert stopped.returncode == 2, stopped.stderr
    assert "the last line is torn" in stopped.stderr and "assay audit repair" in stopped.stderr
    assert not (project / "data" / "prepared").exists()
    assert not (project / "records" / "prepare.json").exists()
    fixed = assay(project, "audit", "repair")
    assert fixed.returncode == 0 and "recorded as entry 6" in fixed.stdout
    ran = assay(project, "prepare", *TINY)
    assert ran.returncode == 0, ran.stderr
    entries = [json.loads(line) for line in audit_path(project).read_text().splitlines()]
    assert [e["action"] for e in entries[-2:]] == ["audit.repair", "stage.prepare"]
    assert entries[-2]["details"]["removed_bytes"] == len(TORN)
    saved = project / "audit" / entries[-2]["details"]["saved_to"]
    assert saved.read_bytes() == TORN  # the torn bytes are kept as evidence
    assert verify(project).intact


def test_a_torn_log_stops_registry_changes_but_not_reads(tmp_path: Path) -> None:
    fill(tmp_path)
    tear(tmp_path)
    before = audit_path(tmp_path).read_bytes()
    changed = assay(tmp_path, "registry", "approve", "churn", "1", "--reason", "ok")
    assert changed.returncode == 2 and "assay audit repair" in changed.stderr
    assert not (tmp_path / "registry").exists()
    assert assay(tmp_path, "registry", "list").returncode == 0
    assert audit_path(tmp_path).read_bytes() == before


def test_repair_brings_a_stale_head_up_to_date(tmp_path: Path) -> None:
    fill(tmp_path, 3)
    head = tmp_path / "records" / "audit_head.json"
    stale = head.read_text()
    append(tmp_path, "stage.train", "models")
    head.write_text(stale)  # as if killed between the entry and the head
    verdict = verify(tmp_path)
    assert verdict.intact and any("1 entries behind the log" in t for t in verdict.limits)
    entry = repair(tmp_path)
    assert entry["action"] == "audit.repair" and entry["details"]["head_before"]["entries"] == 3
    assert json.loads(head.read_text())["entries"] == 5
    assert repair(tmp_path) is None  # nothing left to repair


def test_repair_keeps_a_complete_entry_that_only_lacks_its_newline(tmp_path: Path) -> None:
    lines = fill(tmp_path, 3)
    audit_path(tmp_path).write_text("\n".join(lines))  # no final newline
    entry = repair(tmp_path)
    assert entry["details"]["newline_added"] and entry["details"]["removed_bytes"] == 0
    assert len(audit_path(tmp_path).read_text().splitlines()) == 4
    assert verify(tmp_path).intact


def test_repair_never_removes_evidence_of_an_edit(tmp_path: Path) -> None:
    lines = fill(tmp_path, 4)
    edited = json.loads(lines[1])
    edited["user"] = "mallory"
    lines[1] = json.dumps(edited)
    write_lines(tmp_path, lines)
    result = assay(tmp_path, "audit", "repair")
    assert result.returncode == 0 and "nothing to repair" in result.stdout
    assert "still found (evidence, not repaired): edited" in result.stdout
    assert audit_path(tmp_path).read_text().splitlines() == lines
