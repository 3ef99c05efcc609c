"""Data-quality insights at prepare, in memory and streamed, on a user-style table; the
switches that drop identifiers and stop on findings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assayml.stages.prepare import run_prepare
from tests import cli_fork
from tests.conftest import cli_env
from tests.explain.user_tables import user_table, write_csv

ASSAY = [sys.executable, "-m", "assayml.cli.main"]
USER = ("data=file", "data.target=outcome")


def messy(rows: int = 700) -> pd.DataFrame:
    frame = user_table(rows).iloc[:rows]  # without its repeated rows: added again below
    rng = np.random.default_rng(9)
    n = len(frame)
    frame["clinic"] = 1.0
    frame["lab"] = [str(v) if i % 12 else "?" for i, v in enumerate(rng.integers(0, 30, n))]
    frame["notes"] = np.where(rng.random(n) < 0.5, None, "seen")
    frame["zip"] = [f"z{v}" for v in rng.integers(0, 300, n)]
    frame["row_number"] = np.arange(n) + 1
    return pd.concat([frame, frame.iloc[:4]], ignore_index=True)  # four repeated rows


def insights_of(root: Path) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for insight in json.loads((root / "data/prepared/profile.json").read_text())["insights"]:
        found.setdefault(insight["kind"], []).append(insight)
    return found


def columns_of(found: dict[str, list[dict]], kind: str) -> set[str]:
    return {c for i in found.get(kind, []) for c in i["columns"]}


def test_each_kind_is_found_with_its_figure(make_cfg, project: Path) -> None:
    write_csv(messy(), project / "user.csv")
    record = run_prepare(make_cfg(*USER, "data.path=user.csv"))
    found = insights_of(project)
    assert columns_of(found, "id_like") == {"Unnamed: 0", "patient_id", "row_number"}
    assert columns_of(found, "target_leakage") == {"leak"}
    assert found["target_leakage"][0]["value"] >= 0.95
    assert columns_of(found, "constant") == {"clinic", "notes"}
    assert columns_of(found, "mixed_types") == {"lab"}
    assert 0.9 < found["mixed_types"][0]["value"] < 0.93  # 11 of 12 values are numbers
    assert "'?'" in found["mixed_types"][0]["message"]
    assert columns_of(found, "high_missing") == {"notes"}
    assert columns_of(found, "high_cardinality") == {"zip"}
    assert found["duplicate_rows"][0]["value"] == 4
    assert "class_imbalance" not in found
    assert record.details["insights"].startswith(f"{sum(map(len, found.values()))} (")
    for insight in (i for kind in found.values() for i in kind):
        assert set(insight) == {"kind", "columns", "value", "message"}


def test_class_imbalance_and_a_quiet_clean_table(make_cfg, project: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "y": (rng.random(2000) < 0.04).astype(int)})
    frame.to_csv(project / "rare.csv", index=False)
    run_prepare(make_cfg("data=file", "data.target=y", "data.path=rare.csv"))
    found = insights_of(project)
    assert list(found) == ["class_imbalance"]
    assert found["class_imbalance"][0]["value"] == pytest.approx(
        (frame.y == 1).sum() / (frame.y == 0).sum(), abs=1e-6
    )


def test_drop_id_like_removes_identifiers_but_not_protected_columns(make_cfg, project) -> None:
    write_csv(messy(), project / "user.csv")
    cfg = make_cfg(
        *USER, "data.path=user.csv", "data.insights.drop_id_like=true", "data.sensitive=[race]"
    )
    run_prepare(cfg)
    train = pd.read_parquet(project / "data/prepared/train.parquet")
    assert not {"Unnamed: 0", "patient_id", "row_number"} & set(train.columns)
    assert {"race", "outcome", "leak"} <= set(train.columns)
    profile = json.loads((project / "data/prepared/profile.json").read_text())
    assert "patient_id" not in profile["schema"]
    assert "dropped" in next(i for i in profile["insights"] if i["kind"] == "id_like")["message"]


def prepare_cli(project: Path, *overrides: str) -> subprocess.CompletedProcess:
    return cli_fork.run(
        [*ASSAY, "prepare", *USER, "data.path=user.csv", *overrides],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_fail_on_stops_prepare_before_anything_is_written(project: Path) -> None:
    write_csv(messy(), project / "user.csv")
    result = prepare_cli(project, "data.insights.fail_on=[target_leakage]")
    assert result.returncode == 2, result.stderr
    assert "target_leakage: 'leak' alone predicts 'outcome'" in result.stderr
    assert not (project / "data/prepared").exists()
    bad = prepare_cli(project, "data.insights.fail_on=[leaks]")
    assert bad.returncode == 2 and "unknown kinds ['leaks']" in bad.stderr


def test_streamed_insights_equal_in_memory(make_cfg, project: Path) -> None:
    """The same findings, figures and messages (leakage's figure aside: the streamed split
    differs, and it is scored on the training sample)."""
    frame = messy()
    write_csv(frame, project / "user.csv")

    def findings() -> list[tuple]:
        profile = json.loads((project / "data/prepared/profile.json").read_text())
        return sorted(
            (
                i["kind"],
                i["columns"],
                None if i["kind"] == "target_leakage" else i["value"],
                None if i["kind"] == "target_leakage" else i["message"],
            )
            for i in profile["insights"]
        )

    run_prepare(make_cfg(*USER, "data.path=user.csv"))
    in_memory = findings()
    pd.read_csv(project / "user.csv").to_parquet(project / "user.parquet", index=False)
    run_prepare(make_cfg(*USER, "data.path=user.parquet", "data.streaming=true"))
    assert findings() == in_memory
    first = (project / "data/prepared/profile.json").read_bytes()
    run_prepare(make_cfg(*USER, "data.path=user.parquet", "data.streaming=true"))
    assert (project / "data/prepared/profile.json").read_bytes() == first  # deterministic


def test_conflicting_labels_and_whole_numbers_that_are_not_ids(make_cfg, project) -> None:
    rng = np.random.default_rng(3)
    n = 1000
    frame = pd.DataFrame(
        {
            "income_cents": rng.integers(0, 10**9, n),  # all different, not an identifier
            "visits": rng.integers(0, 5, n),
            "y": rng.integers(0, 2, n),
        }
    )
    frame.loc[:9, ["income_cents", "visits"]] = [123, 1]  # ten rows, one input pattern
    frame.loc[:9, "y"] = [0, 1] * 5
    frame.to_csv(project / "c.csv", index=False)
    run_prepare(make_cfg("data=file", "data.target=y", "data.path=c.csv"))
    found = insights_of(project)
    assert "id_like" not in found
    assert found["duplicate_rows"][0]["value"] == 8  # 10 rows, 2 labels: 8 exact repeats
    assert "1 input patterns occur with different labels" in found["duplicate_rows"][0]["message"]
