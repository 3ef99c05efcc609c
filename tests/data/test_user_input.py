"""Bad user input at prepare, named: repeated column names, a misspelt target; and dict
settings that take the user's keys from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assayml.config import compose, to_typed
from assayml.errors import ConfigError
from tests import cli_fork
from tests.conftest import cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]


def prepare(project: Path, *overrides: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, "prepare", "data=file", *overrides],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_repeated_column_names_are_bad_input(project: Path) -> None:
    (project / "dup.csv").write_text("a,b,a,target\n1,2,3,0\n4,5,6,1\n" * 20)
    result = prepare(project, "data.path=dup.csv", "data.target=target")
    assert result.returncode == 2, result.stderr
    assert "repeated column names ('a' at columns 0, 2)" in result.stderr
    assert not (project / "data/prepared").exists()
    table = pa.Table.from_arrays(
        [pa.array([1, 2] * 20), pa.array([3, 4] * 20), pa.array([0, 1] * 20)],
        names=["x", "x", "target"],
    )
    pq.write_table(table, project / "dup.parquet")
    for streaming in ("false", "true"):
        result = prepare(
            project, "data.path=dup.parquet", "data.target=target", f"data.streaming={streaming}"
        )
        assert result.returncode == 2 and "'x' at columns 0, 1" in result.stderr, result.stderr


def test_a_misspelt_target_lists_every_column_and_the_closest(project: Path) -> None:
    columns = {f"feature_{i:02d}": np.arange(30.0) for i in range(28)}
    frame = pd.DataFrame({**columns, "Outcome_flag": np.arange(30) % 2})
    frame.to_csv(project / "wide.csv", index=False)
    result = prepare(project, "data.path=wide.csv", "data.target=outcome_flag")
    assert result.returncode == 2
    assert "did you mean 'Outcome_flag'?" in result.stderr
    assert "columns (29):" in result.stderr and "feature_27" in result.stderr


def test_mapping_settings_take_new_keys_from_overrides(project: Path) -> None:
    base = ["data=file", "data.path=x.csv", "data.target=y"]
    for override in ("data.reference_groups={race: 1}", "data.reference_groups.race=1"):
        cfg = to_typed(compose([*base, override], project / "conf"))
        assert cfg.data.reference_groups == {"race": 1}
    cfg = to_typed(compose([*base, "data.columns={y: {dtype: int}, a: {dtype: float}}"]))
    assert list(cfg.data.columns) == ["y", "a"]
    with pytest.raises(ConfigError, match="dtyp"):
        to_typed(compose([*base, "data.columns={y: {dtyp: int}}"], project / "conf"))
    with pytest.raises(ConfigError, match="trian"):
        compose([*base, "data.split.trian=0.5"], project / "conf")
