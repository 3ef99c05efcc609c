"""verify names what happened: edited, deleted, inserted, reordered, truncated, rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assayml.audit import verify
from assayml.audit.head import ANCHOR_REF, anchored_heads
from assayml.audit.log import audit_path, entry_hash
from tests import cli_fork
from tests.audit.conftest import commit_head, fill, git, write_lines


def kinds(root: Path) -> list[str]:
    return [f.kind for f in verify(root).findings]


def test_a_swap_is_reported_as_reordered_not_deleted(tmp_path: Path) -> None:
    lines = fill(tmp_path)
    lines[1], lines[3] = lines[3], lines[1]
    write_lines(tmp_path, lines)
    verdict = verify(tmp_path)
    assert [f.kind for f in verdict.findings] == ["reordered"]
    assert "lines 2..4 hold seq 4, 3, 2" in verdict.problem


def test_an_inserted_copy_is_named_inserted(tmp_path: Path) -> None:
    lines = fill(tmp_path)
    forged = json.loads(lines[1])
    forged["subject"] = "forged"
    forged["hash"] = entry_hash(forged)
    write_lines(tmp_path, [*lines[:2], json.dumps(forged), *lines[2:]])
    (finding,) = verify(tmp_path).findings
    assert finding.kind == "inserted" and finding.line == 3 and finding.seq == 2


def test_an_edit_with_a_recomputed_hash_is_named_rewritten(tmp_path: Path) -> None:
    lines = fill(tmp_path)
    entry = json.loads(lines[2])
    entry["user"] = "mallory"
    entry["hash"] = entry_hash(entry)
    lines[2] = json.dumps(entry)
    write_lines(tmp_path, lines)
    verdict = verify(tmp_path)
    assert [f.kind for f in verdict.findings] == ["rewritten"]
    assert "seq 3 (line 3) " in verdict.problem or "does not link to seq 3" in verdict.problem


def test_deleting_the_last_entries_is_truncation(tmp_path: Path) -> None:
    lines = fill(tmp_path)
    write_lines(tmp_path, lines[:3])
    verdict = verify(tmp_path)
    assert not verdict.intact and kinds(tmp_path) == ["truncated"]
    assert "entries 4..5 were cut from the end" in verdict.problem


def test_deleting_the_log_is_named(tmp_path: Path) -> None:
    fill(tmp_path)
    audit_path(tmp_path).unlink()
    assert kinds(tmp_path) == ["deleted"]


def test_rewriting_the_whole_chain_is_named(tmp_path: Path) -> None:
    from assayml.audit.log import GENESIS

    lines, prev, out = fill(tmp_path), GENESIS, []
    for line in lines:
        entry = json.loads(line)
        entry["user"], entry["prev"] = "mallory", prev
        entry["hash"] = prev = entry_hash(entry)
        out.append(json.dumps(entry))
    write_lines(tmp_path, out)
    verdict = verify(tmp_path)
    assert kinds(tmp_path) == ["rewritten"] and "rewritten with recomputed" in verdict.problem


@pytest.mark.parametrize("where", ["anchor ref", "committed head file"])
def test_truncating_log_and_head_together_is_found_in_git_history(repo: Path, where) -> None:
    """A log-only edit cannot reach the heads git holds, anchored on refs/assay/audit at
    every append (no commit needed) or committed as the head file (before the ref); nor
    can rewriting the working head."""
    fill(repo, 6)
    if where == "committed head file":
        commit_head(repo)
        git(repo, "update-ref", "-d", ANCHOR_REF)  # only the file's history is left
    lines = audit_path(repo).read_text().splitlines()
    write_lines(repo, lines[:2])
    head = json.loads((repo / "records/audit_head.json").read_text())
    head.update(entries=2, hash=json.loads(lines[1])["hash"])
    (repo / "records/audit_head.json").write_text(json.dumps(head))
    verdict = verify(repo)
    assert [f.kind for f in verdict.findings] == ["truncated"]
    found_by = "anchor " if where == "anchor ref" else "commit "
    assert found_by in verdict.problem and "entries 3..6 were cut" in verdict.problem


def test_appending_leaves_a_committed_work_tree_clean(repo: Path) -> None:
    """The head goes to a ref, and the working head file is git-ignored (as the project's
    .gitignore has it): a command run on a committed state changes nothing git tracks."""
    (repo / ".gitignore").write_text("/records/audit_head.json\n/audit/\n")
    fill(repo, 2)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "state")
    fill(repo, 3)
    assert git(repo, "status", "--porcelain") == ""
    assert len(anchored_heads(repo)) == 5 and verify(repo).intact


def test_without_a_commit_verify_says_what_it_cannot_see(tmp_path: Path) -> None:
    fill(tmp_path)
    limits = " ".join(verify(tmp_path).limits)
    assert "not keyed" in limits and "not in a git work tree" in limits


def test_other_trails_in_the_repository_are_not_this_ones(repo: Path) -> None:
    """A project in a sub-folder and a linked work tree (as `assay reproduce` rebuilds in)
    anchor on refs of their own: neither reads as this trail truncated or rewritten."""
    fill(repo, 2)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "state")
    (repo / "sub").mkdir()
    fill(repo / "sub", 4)
    git(repo, "worktree", "add", "-q", str(repo.parent / "linked"))
    fill(repo.parent / "linked", 3)
    assert verify(repo).intact and verify(repo / "sub").intact
    assert verify(repo.parent / "linked").intact
    assert [len(anchored_heads(p)) for p in (repo, repo / "sub")] == [2, 4]
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/assay").split()
    assert refs[0] == ANCHOR_REF and refs[1].startswith(ANCHOR_REF + "-sub-")


def test_a_trail_without_anchored_heads_is_named_as_a_limit(repo: Path) -> None:
    fill(repo)
    assert any("5 head(s) anchored" in t for t in verify(repo).checked)
    git(repo, "update-ref", "-d", ANCHOR_REF)  # as if appended before `git init`
    verdict = verify(repo)
    assert verdict.intact and any("no head is anchored" in t for t in verdict.limits)
    commit_head(repo)
    verdict = verify(repo)
    assert verdict.intact and any("1 head(s) anchored" in t for t in verdict.checked)


def test_a_torn_last_line_and_a_garbled_head_are_named(tmp_path: Path) -> None:
    fill(tmp_path, 3)
    with open(audit_path(tmp_path), "a") as handle:
        handle.write('{"seq": 4, "ha')
    (tmp_path / "records" / "audit_head.json").write_text("not json")
    verdict = verify(tmp_path)
    assert [f.kind for f in verdict.findings] == ["torn", "edited"]
    assert verdict.entries == 3 and "assay audit repair" in verdict.problem


def test_cli_verify_json_lists_findings_and_limits(tmp_path: Path) -> None:
    import sys

    from tests.conftest import cli_env

    lines = fill(tmp_path)
    write_lines(tmp_path, lines[:4])
    result = cli_fork.run(
        [sys.executable, "-m", "assayml.cli.main", "audit", "verify", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    doc = json.loads(result.stdout)
    assert result.returncode == 1 and not doc["intact"]
    assert [f["kind"] for f in doc["findings"]] == ["truncated"] and doc["limits"]
