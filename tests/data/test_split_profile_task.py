"""Split (seeded, stratified), profile and task inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assayml.config.schema import ColumnSpec, ColumnType, DataConfig, SplitConfig, Task
from assayml.data.profile import profile_splits
from assayml.data.split import split_frame
from assayml.data.task import resolve_task
from assayml.errors import DataError


def frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "y": (np.arange(n) % 4 == 0).astype(int)})


def test_split_fractions_stratification_and_seed() -> None:
    data = frame()
    parts = split_frame(data, "y", Task.binary, SplitConfig(), seed=3)
    assert {k: len(v) for k, v in parts.items()} == {"train": 140, "val": 30, "test": 30}
    for part in parts.values():
        assert part["y"].mean() == pytest.approx(0.25, abs=0.04)
    again = split_frame(data, "y", Task.binary, SplitConfig(), seed=3)
    other = split_frame(data, "y", Task.binary, SplitConfig(), seed=4)
    assert parts["test"].equals(again["test"]) and not parts["test"].equals(other["test"])
    rows = pd.concat(parts.values())["x"].sort_values().to_numpy()
    assert np.array_equal(rows, np.sort(data["x"].to_numpy()))  # a partition


def test_a_class_too_rare_to_stratify_is_named() -> None:
    data = frame(50)
    data.loc[0, "y"] = 7
    with pytest.raises(DataError, match="7"):
        split_frame(data, "y", Task.multiclass, SplitConfig(), seed=0)


def test_profile_has_counts_summaries() -> None:
    parts = split_frame(frame(), "y", Task.binary, SplitConfig(), seed=0)
    profile = profile_splits(parts, "y", "binary")
    assert profile["rows"] == {"train": 140, "val": 30, "test": 30}
    summary = profile["splits"]["train"]["x"]
    assert {"min", "max", "mean", "std", "quantiles", "missing"} <= set(summary)


@pytest.mark.parametrize(
    "values,dtype,expected",
    [
        ([0, 1, 0, 1], ColumnType.int, Task.binary),
        ([0, 1, 2, 1], ColumnType.int, Task.multiclass),
        (["a", "b", "c", "a"], ColumnType.category, Task.multiclass),
        ([0.5, 1.25, 2.0, 3.5], ColumnType.float, Task.regression),
        ([1.0, 2.0, 3.0, 4.0], ColumnType.float, Task.regression),
    ],
)
def test_task_inference(values, dtype, expected) -> None:
    cfg = DataConfig(name="t", target="y", columns={"y": ColumnSpec(dtype=dtype)})
    assert resolve_task(cfg, pd.Series(values)) is expected


def test_declared_binary_with_three_classes_fails() -> None:
    cfg = DataConfig(name="t", target="y", task=Task.binary)
    with pytest.raises(DataError, match="binary"):
        resolve_task(cfg, pd.Series([0, 1, 2]))
