"""Run records: git state that ignores the pipeline's own results, and the environment."""

from __future__ import annotations

import json
from pathlib import Path

from assayml.records import (
    VOLATILE_FIELDS,
    StageRecord,
    environment,
    git_state,
    run_facts_path,
    with_run_facts,
)
from tests.repo_helpers import git, init_repo


def test_git_state_is_dirty_for_code_changes_only(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    (repo / "metrics").mkdir()
    (repo / "metrics" / "evaluate.json").write_text("{}")
    (repo / "train.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    state = git_state(repo)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (repo / "metrics" / "evaluate.json").write_text('{"accuracy": 1}')
    assert git_state(repo)["dirty"] is False  # a new result is not a code change
    (repo / "new_output.csv").write_text("a\n")  # untracked: not a code change
    assert git_state(repo)["dirty"] is False
    (repo / "train.py").write_text("x = 2\n")
    state = git_state(repo)
    assert state["dirty"] is True and state["changed"] == ["train.py"]


def test_outside_git_the_state_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {"commit": None, "dirty": None, "changed": []}


def test_environment_names_python_platform_and_packages() -> None:
    env = environment()
    assert env["python"].count(".") == 2 and env["packages"]["numpy"]


def _record(config_hash: str, started: str) -> StageRecord:
    return StageRecord(
        stage="train",
        config_hash=config_hash,
        seed=0,
        data={"md5": "d"},
        inputs={"artifacts/features/x": "1"},
        outputs={"models/model.safetensors": config_hash * 2},
        started_at=started,
        finished_at=started,
        git={"commit": f"commit-{config_hash}", "dirty": False, "changed": []},
        environment={"python": "3.11"},
    )


def test_a_record_holds_no_volatile_fact_and_finds_its_runs(tmp_path: Path) -> None:
    """Two results of one stage (say lr=0.1, then lr=0.2): each record, as DVC would restore
    it, is joined with the facts of the run that made it, not with the latest run's."""
    records = tmp_path / "records"
    made = [_record("aa", "2026-12-01T00:00:00.000Z"), _record("bb", "2026-12-01T01:00:00.000Z")]
    for record in made:
        assert not set(VOLATILE_FIELDS) & set(record.to_dict())
        path = run_facts_path(records, record.to_dict())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record.run_facts()))
    for record in made:
        joined = with_run_facts(records, "train", record.to_dict())
        assert joined["git"] == record.git and joined["started_at"] == record.started_at
    other = {**made[0].to_dict(), "outputs": {"models/model.safetensors": "cc"}}
    assert "git" not in with_run_facts(records, "train", other)  # made elsewhere: no facts
    run_facts_path(records, made[0].to_dict()).write_text("[1, 2]")  # damaged: not a dict
    assert "git" not in with_run_facts(records, "train", made[0].to_dict())


def test_installed_packages_equal_what_importlib_metadata_parses() -> None:
    """The hand-read header lines give what the email parser of importlib.metadata gives,
    for every installed distribution, and each key package's version is importlib's."""
    from importlib import metadata

    from assayml.records import KEY_PACKAGES, _version, installed_packages

    parsed: dict[str, str] = {}
    for dist in metadata.distributions():
        parsed.setdefault(dist.metadata["Name"].lower(), dist.version)
    assert installed_packages() == dict(sorted(parsed.items()))
    for name in KEY_PACKAGES:
        try:
            expected = metadata.version(name)
        except metadata.PackageNotFoundError:
            expected = None
        assert _version(name) == expected, name
