"""Data sources: built-in sets, files, and versions read through DVC at a git revision."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from assayml.config.schema import DataConfig, DataSource, FileFormat
from assayml.data.builtin import BUILTIN_LOADERS
from assayml.data.sources import load_raw, parse_table
from assayml.errors import ConfigError, DataError
from tests.repo_helpers import commit_data_version, git, init_repo

V1 = "x,y\n1.0,0\n2.0,1\n3.0,0\n"
V2 = "x,y\n10.0,1\n20.0,0\n30.0,1\n40.0,0\n"


@pytest.mark.parametrize("name", sorted(BUILTIN_LOADERS))
def test_builtin_sets_load_offline_with_overridable_column_names(name: str) -> None:
    raw = load_raw(DataConfig(name=name, target="target"))
    assert len(raw.frame) > 100
    assert all(" " not in c for c in raw.frame.columns)
    assert raw.md5 == load_raw(DataConfig(name=name, target="target")).md5


def test_unknown_builtin_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="breast_cancer"):
        load_raw(DataConfig(name="iris", target="target"))


def test_file_hash_is_md5_of_the_bytes_read(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(V1)
    raw = load_raw(DataConfig(name="d", source=DataSource.file, path="d.csv", target="y"), tmp_path)
    assert raw.md5 == hashlib.md5(V1.encode()).hexdigest()
    assert raw.frame["x"].tolist() == [1.0, 2.0, 3.0]


def test_parquet_is_read_by_suffix(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}).to_parquet(tmp_path / "d.parquet")
    raw = load_raw(
        DataConfig(name="d", source=DataSource.file, path="d.parquet", target="y"), tmp_path
    )
    assert raw.frame.shape == (2, 2)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    cfg = DataConfig(name="d", source=DataSource.file, path="nope/d.csv", target="y")
    with pytest.raises(DataError, match=r"nope/d\.csv"):
        load_raw(cfg, tmp_path)


@pytest.mark.parametrize(
    "content,fmt,message",
    [(b"", FileFormat.csv, "empty"), (b"not parquet", FileFormat.parquet, "cannot parse")],
)
def test_unreadable_files_are_data_errors(content: bytes, fmt: FileFormat, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_table(content, "d.x", fmt)


def test_rev_reads_the_dvc_tracked_version_at_that_tag(tmp_path: Path) -> None:
    """Workspace holds v2; data.rev=v1 reads v1's bytes through DVC, and the recorded hash
    is the md5 DVC recorded for v1."""
    repo = init_repo(tmp_path / "repo")
    md5_v1 = commit_data_version(repo, "data/raw/d.csv", V1, "v1")
    md5_v2 = commit_data_version(repo, "data/raw/d.csv", V2, "v2")
    cfg = DataConfig(name="d", source=DataSource.file, path="data/raw/d.csv", target="y")
    at_v1 = load_raw(DataConfig(**{**cfg.__dict__, "rev": "v1"}), repo)
    workspace = load_raw(cfg, repo)
    assert at_v1.md5 == md5_v1 and len(at_v1.frame) == 3
    assert workspace.md5 == md5_v2 and len(workspace.frame) == 4
    assert at_v1.origin["rev"] == "v1"
    assert at_v1.origin["rev_commit"] == git(repo, "rev-parse", "v1^{commit}").strip()


def test_unknown_rev_is_a_data_error(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    commit_data_version(repo, "d.csv", V1, "v1")
    cfg = DataConfig(name="d", source=DataSource.file, path="d.csv", target="y", rev="v9")
    with pytest.raises(DataError, match=r"d\.csv@v9"):
        load_raw(cfg, repo)
