"""Compare labels, facet values and reference groups as typed values, in one place.

A CSV read with an inferred schema holds 0/1 labels as floats (``1.0``); a user types a
reference group as a string (``"1"``) or an int (``1``); a missing facet value is NaN.
Comparing string forms (``"1.0" != "1"``) silently put every row in the wrong group, and
sorting a facet that mixes NaN with strings crashed. Every such comparison in the bias,
baseline and monitor code goes through this module instead:

- a value's *name* is its canonical text: integral numbers as integers (``1``, ``1.0``,
  ``True`` -> ``"1"``), other numbers in their shortest round-trip form (``"2.5"``), text
  as it is; a missing value (None, NaN, NA) is the group ``"missing"``;
- a value typed by the user (a reference group, a favourable label) is matched to a
  numeric column by its number (``"1"``, ``1`` and ``1.0`` all match ``1.0``) and to any
  other column by its name.

Names are strings, so they sort, serve as JSON keys and compare exactly; two different
values of a column never share a name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

MISSING = "missing"  # the group of rows whose value is missing
MISSING_CLASH = "(missing)"  # its name where a real category is already called "missing"


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA/NaT."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are values, not missing
        return False


def value_name(value: Any) -> str:
    """The canonical text of one present value (see the module docstring)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
        return repr(number)
    return str(value)


def is_numeric(values: pd.Series) -> bool:
    """Whether a column compares as numbers (bools count as 0/1)."""
    if values.dtype == object:
        values = values.infer_objects()
    return pd.api.types.is_numeric_dtype(values)


def group_names(values: Any, missing: str | None = None) -> np.ndarray:
    """Every value's name (object array of str). Missing values are named ``missing``:
    pass the name :func:`missing_name_of` chose for the whole facet (train and split
    together), so that every table of a facet names them alike; by default it is chosen
    from ``values`` alone."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, object))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = [value_name(u) for u in uniques]
    table = np.array([*names, missing or missing_name(names)], dtype=object)
    return table[codes]  # code -1 (missing) picks the last entry


def missing_name(names: Iterable[str]) -> str:
    """The name of the missing group among ``names`` (the present values' names):
    ``"missing"``, or ``"(missing)"`` where a real value is already called that."""
    return MISSING_CLASH if MISSING in set(names) else MISSING


def missing_name_of(*columns: pd.Series) -> str:
    """The missing group's name for a facet seen in several tables (train, split, current)."""
    return missing_name(n for c in columns for n in group_names(c.dropna(), MISSING))


def typed_name(value: Any, values: pd.Series, missing: str | None = None) -> str | None:
    """The name ``value`` (typed by a user) has in the column ``values``; None when it
    cannot be a value of that column (text that is no number, for a numeric column).

    A numeric column takes numbers in any spelling (``1``, ``"1"``, ``1.0``), ``"true"`` and
    ``"false"`` as 1 and 0, and the value as the column's own float type would hold it (a
    float32 column stores 0.1 as 0.10000000149...); ``"missing"`` names its missing group.
    """
    missing = missing or missing_name_of(values)
    if is_missing(value):
        return missing
    if not is_numeric(values) or isinstance(value, (bool, np.bool_)):
        return value_name(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value_name(value.strip().lower() == "true")
    if isinstance(value, str) and value in (MISSING, MISSING_CLASH):
        return missing
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        number = float(dtype.type(number))
    return value_name(number)


def matches(values: pd.Series, value: Any) -> np.ndarray:
    """A boolean mask of the rows of ``values`` equal to the user-typed ``value``."""
    name = typed_name(value, values)
    return np.zeros(len(values), bool) if name is None else group_names(values) == name


def index_of(classes: list[Any], value: Any) -> int | None:
    """The position of ``value`` among ``classes`` (a target's labels), compared as typed
    values; None when it is not one of them."""
    labels = pd.Series(list(classes), dtype=object).infer_objects()
    names = list(group_names(labels))
    name = typed_name(value, labels)
    return names.index(name) if name in names else None


def sorted_groups(names: Iterable[str]) -> list[str]:
    """Distinct names in a natural order: numbers by value, then text, the missing group
    last (``"(missing)"`` where present, since a real ``"missing"`` then stands beside it)."""
    distinct = set(names)
    missing = MISSING_CLASH if MISSING_CLASH in distinct else MISSING

    def order(name: str) -> tuple[int, float, str]:
        if name == missing:
            return (2, 0.0, name)
        try:
            return (0, float(name), name)
        except ValueError:
            return (1, 0.0, name)

    return sorted(distinct, key=order)
