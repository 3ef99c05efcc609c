"""Schema validation with pandera: every violation names its column, check and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assayml.config.schema import ColumnSpec, ColumnType, DataConfig
from assayml.data.schema import validate_frame
from assayml.errors import DataError

CFG = DataConfig(
    name="t",
    target="label",
    columns={
        "age": ColumnSpec(dtype=ColumnType.int, min=18, max=99),
        "income": ColumnSpec(dtype=ColumnType.float, min=0, nullable=True),
        "colour": ColumnSpec(dtype=ColumnType.category, allowed=["red", "blue"]),
        "label": ColumnSpec(dtype=ColumnType.int, min=0, max=1),
    },
)


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20, 30, 40, 50],
            "income": [1.0, np.nan, 3.0, 4.0],
            "colour": ["red", "blue", "red", "blue"],
            "label": [0, 1, 0, 1],
            "extra": ["a", "b", "c", "d"],
        }
    )


def test_valid_frame_keeps_declared_columns_in_order_with_declared_types() -> None:
    out = validate_frame(good(), CFG, "t.csv")
    assert list(out.columns) == ["age", "income", "colour", "label"]
    assert out["age"].dtype == np.int64 and out["income"].dtype == np.float64


@pytest.mark.parametrize(
    "column,value,check,row",
    [
        ("age", 7, "greater_than_or_equal_to", 2),
        ("age", 120, "less_than_or_equal_to", 1),
        ("age", "forty", "coerce_dtype", 3),
        ("income", -5.0, "greater_than_or_equal_to", 0),
        ("colour", "green", "isin", 1),
        ("label", None, "not_nullable", 2),
    ],
)
def test_violation_names_column_check_and_row(column, value, check, row) -> None:
    frame = good().astype({column: object})
    frame.loc[row, column] = value
    with pytest.raises(DataError) as err:
        validate_frame(frame, CFG, "t.csv")
    message = str(err.value)
    assert "t.csv" in message and f"'{column}'" in message and check in message
    assert f"rows {row}" in message


def test_first_offending_rows_are_listed_then_counted() -> None:
    frame = pd.concat([good()] * 5, ignore_index=True)
    frame.loc[[3, 5, 7, 9, 11, 13, 15], "income"] = -1.0
    with pytest.raises(DataError, match=r"rows 3, 5, 7, 9, 11 and 2 more"):
        validate_frame(frame, CFG, "t.csv")


def test_all_violations_are_reported_at_once() -> None:
    frame = good().astype({"age": object})
    frame.loc[0, "age"] = "x"
    frame.loc[1, "colour"] = "green"
    with pytest.raises(DataError) as err:
        validate_frame(frame, CFG, "t.csv")
    assert "'age'" in str(err.value) and "'colour'" in str(err.value)


def test_missing_declared_column() -> None:
    with pytest.raises(DataError, match="missing from the data: 'colour'"):
        validate_frame(good().drop(columns="colour"), CFG, "t.csv")


def test_missing_target_names_it() -> None:
    with pytest.raises(DataError, match="target column 'label' is missing"):
        validate_frame(good().drop(columns="label"), CFG, "t.csv")


def test_empty_table() -> None:
    with pytest.raises(DataError, match="no rows"):
        validate_frame(good().iloc[:0], CFG, "t.csv")


def test_undeclared_schema_is_inferred_permissively() -> None:
    cfg = DataConfig(name="t", target="label")
    out = validate_frame(good(), cfg, "t.csv")
    assert list(out.columns) == ["age", "income", "colour", "label", "extra"]
