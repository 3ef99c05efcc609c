"""Atomic output: all of a stage's files appear together, or none do."""

from __future__ import annotations

from pathlib import Path

import pytest

from assayml.utils.io import atomic_outputs, md5_file


def test_files_appear_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.json"
    with atomic_outputs() as out:
        out.write_json(target, {"a": 1})
        assert not target.exists()
    assert target.read_text() == '{\n  "a": 1\n}\n'


def test_failure_keeps_old_files_and_leaves_no_temporaries(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("old")
    (tmp_path / "owned").mkdir()
    (tmp_path / "owned" / "x.txt").write_text("old x")
    with pytest.raises(RuntimeError), atomic_outputs() as out:
        out.own_dir(tmp_path / "owned")
        out.write_text(tmp_path / "keep.txt", "new")
        out.write_text(tmp_path / "owned" / "x.txt", "new x")
        raise RuntimeError("killed half-way")
    assert (tmp_path / "keep.txt").read_text() == "old"
    assert (tmp_path / "owned" / "x.txt").read_text() == "old x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "owned"]


def test_an_owned_directory_is_replaced_whole(tmp_path: Path) -> None:
    owned = tmp_path / "plots"
    owned.mkdir()
    (owned / "stale.png").write_text("from an earlier run")
    with atomic_outputs() as out:
        out.own_dir(owned)
        out.write_text(owned / "sub" / "new.json", "{}")
        digests = out.digests()
    assert sorted(str(p.relative_to(owned)) for p in owned.rglob("*") if p.is_file()) == [
        "sub/new.json"
    ]
    assert digests == {str(Path(owned, "sub", "new.json")): md5_file(owned / "sub" / "new.json")}


def test_a_folder_with_sub_folders_is_never_replaced(tmp_path: Path) -> None:
    from assayml.errors import ArtifactError

    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "precious.csv").write_text("x\n1\n")
    with pytest.raises(ArtifactError, match="sub-folders"), atomic_outputs() as out:
        out.own_dir(tmp_path / "data")
    assert (tmp_path / "data" / "raw" / "precious.csv").is_file()


def test_the_working_directory_is_never_an_output_folder(tmp_path: Path, monkeypatch) -> None:
    from assayml.errors import ArtifactError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArtifactError, match="project itself"), atomic_outputs() as out:
        out.own_dir(".")


def test_an_interrupted_swap_is_restored(tmp_path: Path) -> None:
    """Killed between renaming the old folder away and the new one in: the old comes back
    when the next stage claims the folder."""
    from assayml.utils.io import OutputBatch

    (tmp_path / ".abc.old.models").mkdir()
    (tmp_path / ".abc.old.models" / "model.json").write_text("{}")
    batch = OutputBatch()
    batch.own_dir(tmp_path / "models")
    batch.abort()
    assert (tmp_path / "models" / "model.json").read_text() == "{}"
