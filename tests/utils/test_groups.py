"""Typed comparison of labels, facet values and reference groups (utils/groups.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assayml.utils import groups as typed


def test_numbers_match_whatever_their_spelling() -> None:
    floats = pd.Series([0.0, 1.0, 1.0, np.nan])
    for value in (1, 1.0, "1", "1.0", np.int64(1), np.float32(1.0)):
        assert typed.matches(floats, value).tolist() == [False, True, True, False], value
    ints = pd.Series([0, 1, 1], dtype="Int64")
    assert typed.matches(ints, "1").tolist() == [False, True, True]
    assert typed.matches(pd.Series([True, False]), 1).tolist() == [True, False]
    assert typed.matches(floats, "one").tolist() == [False] * 4  # no number: no match


def test_text_columns_compare_by_name() -> None:
    text = pd.Series(["1", "a", None, "1"], dtype=object)
    assert typed.matches(text, 1).tolist() == [True, False, False, True]
    assert typed.matches(text, "a").tolist() == [False, True, False, False]


def test_missing_values_are_a_group_of_their_own() -> None:
    facet = pd.Series([0.0, np.nan, 2.5, None, 10.0])
    assert typed.group_names(facet).tolist() == ["0", "missing", "2.5", "missing", "10"]
    assert typed.sorted_groups(typed.group_names(facet)) == ["0", "2.5", "10", "missing"]
    mixed = pd.Series(["b", np.nan, "a", 3], dtype=object)  # sorting this used to crash
    assert typed.sorted_groups(typed.group_names(mixed)) == ["3", "a", "b", "missing"]
    clash = pd.Series(["missing", None], dtype=object)
    assert typed.group_names(clash).tolist() == ["missing", "(missing)"]


def test_index_of_a_class_list() -> None:
    assert typed.index_of([0.0, 1.0], "1") == 1
    assert typed.index_of([0, 1], 1.0) == 1
    assert typed.index_of(["no", "yes"], "yes") == 1
    assert typed.index_of([0, 1], 2) is None


def test_one_missing_name_for_a_facet_across_tables() -> None:
    train = pd.Series(["missing", "a", None], dtype=object)  # a real category "missing"
    split = pd.Series(["a", None], dtype=object)
    name = typed.missing_name_of(train, split)
    assert name == "(missing)"
    assert typed.group_names(split, name).tolist() == ["a", "(missing)"]
    assert typed.group_names(train, name).tolist() == ["missing", "a", "(missing)"]


def test_booleans_and_float32_match_as_typed() -> None:
    flags = pd.Series([True, False, True])
    assert typed.matches(flags, "True").tolist() == [True, False, True]
    assert typed.matches(flags, "false").tolist() == [False, True, False]
    single = pd.Series(np.array([0.1, 0.2], dtype=np.float32))
    assert typed.matches(single, "0.1").tolist() == [True, False]
    assert typed.matches(single, 0.2).tolist() == [False, True]
    assert typed.typed_name("missing", pd.Series([1.0, np.nan])) == "missing"
