"""The key and the head anchor the chain: a rewrite without the key is found."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assayml.audit import append, verify
from assayml.audit.key import AuditKeyError
from assayml.audit.log import GENESIS, audit_path, entry_hash
from tests import cli_fork
from tests.audit.conftest import commit_head, fill, write_lines
from tests.conftest import cli_env


def audit(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", "audit", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=120,
    )


def forge_chain(root: Path, edit) -> list[str]:
    """Rewrite every entry with recomputed hashes, as someone without the key could."""
    out, prev = [], GENESIS
    for line in audit_path(root).read_text().splitlines():
        entry = json.loads(line)
        edit(entry)
        entry["prev"] = prev
        entry["hash"] = prev = entry_hash(entry)
        out.append(json.dumps(entry))
    write_lines(root, out)
    return out


def forge_head(root: Path) -> None:
    """...and the working head to match: only the key (or git history) can tell."""
    last = json.loads(audit_path(root).read_text().splitlines()[-1])
    path = root / "records" / "audit_head.json"
    head = json.loads(path.read_text())
    head.update(entries=last["seq"], hash=last["hash"])
    path.write_text(json.dumps(head))


def test_init_keys_the_trail_and_signs_every_later_entry(tmp_path: Path, key_file: Path) -> None:
    fill(tmp_path, 2)
    result = audit(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert key_file.is_file() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    append(tmp_path, "stage.train", "models")
    entries = [json.loads(line) for line in audit_path(tmp_path).read_text().splitlines()]
    assert [bool(e.get("mac")) for e in entries] == [False, False, True, True]
    verdict = verify(tmp_path)
    assert verdict.intact and any("MAC of every entry from seq 3" in c for c in verdict.checked)
    assert any("entries 1..2 precede `assay audit init`" in t for t in verdict.limits)
    assert audit(tmp_path, "init").stdout.startswith("audit/audit.jsonl: already keyed")


def test_a_rewrite_with_recomputed_hashes_and_head_is_found_with_the_key(tmp_path: Path) -> None:
    assert audit(tmp_path, "init").returncode == 0
    fill(tmp_path, 4)

    def edit(entry):
        entry["user"] = "mallory"

    forge_chain(tmp_path, edit)  # MACs copied along: they no longer match
    forge_head(tmp_path)
    verdict = verify(tmp_path)
    assert [f.kind for f in verdict.findings] == ["rewritten", "edited"]
    assert "1..5: entries have MACs that do not match" in verdict.problem
    assert "the head was edited without the key" in verdict.findings[1].message


def test_stripping_the_macs_is_found_when_the_head_was_committed(repo: Path) -> None:
    assert audit(repo, "init").returncode == 0
    fill(repo, 2)
    commit_head(repo)

    def strip(entry):
        entry.pop("mac", None)
        entry.pop("key_id", None)

    forge_chain(repo, strip)
    forge_head(repo)
    head = json.loads((repo / "records/audit_head.json").read_text())
    head.update(key_id=None, mac=None)
    (repo / "records/audit_head.json").write_text(json.dumps(head))
    verdict = verify(repo, key=None)
    assert not verdict.intact
    assert {f.kind for f in verdict.findings} == {"rewritten"}
    assert any("says the trail is keyed" in f.message for f in verdict.findings)


def test_without_the_key_verify_says_what_it_cannot_check(tmp_path: Path) -> None:
    assert audit(tmp_path, "init").returncode == 0
    env = {**cli_env(), "ASSAY_AUDIT_KEY_FILE": str(tmp_path.parent / "nowhere.key")}
    result = audit(tmp_path, "verify", env=env)
    assert result.returncode == 0
    assert "not checked: MACs not checked: the trail is keyed with key id" in result.stdout
    assert "no key is set here" in result.stdout


def test_a_keyed_trail_refuses_entries_without_its_key(tmp_path: Path, monkeypatch) -> None:
    assert audit(tmp_path, "init").returncode == 0
    before = audit_path(tmp_path).read_bytes()
    monkeypatch.setenv("ASSAY_AUDIT_KEY_FILE", str(tmp_path.parent / "none.key"))
    with pytest.raises(AuditKeyError, match=r"is keyed .* no key is set here"):
        append(tmp_path, "stage.train", "models")
    monkeypatch.setenv("ASSAY_AUDIT_KEY", "ab" * 32)  # another key
    with pytest.raises(AuditKeyError, match="has id"):
        append(tmp_path, "stage.train", "models")
    assert audit_path(tmp_path).read_bytes() == before


def test_a_key_inside_the_project_is_refused(tmp_path: Path) -> None:
    env = {**cli_env(), "ASSAY_AUDIT_KEY_FILE": str(tmp_path / "audit.key")}
    result = audit(tmp_path, "init", env=env)
    assert result.returncode == 2 and "must live outside the project" in result.stderr
    assert not (tmp_path / "audit.key").exists() and not audit_path(tmp_path).exists()


def test_a_short_key_is_bad_input(tmp_path: Path) -> None:
    env = {**cli_env(), "ASSAY_AUDIT_KEY": "abcd"}
    result = audit(tmp_path, "init", env=env)
    assert result.returncode == 2 and "at least 32" in result.stderr


def test_a_fresh_log_beside_a_keyed_head_starts_without_the_key(tmp_path, monkeypatch) -> None:
    """A clone (or reproduce's worktree) has the committed head but not audit/."""
    assert audit(tmp_path, "init").returncode == 0
    audit_path(tmp_path).unlink()
    monkeypatch.setenv("ASSAY_AUDIT_KEY_FILE", str(tmp_path.parent / "none.key"))
    entry = append(tmp_path, "stage.prepare", "data/prepared")
    assert entry["seq"] == 1 and "mac" not in entry
