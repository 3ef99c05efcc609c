"""Which rows a deletion request names: a pandas query, or keys listed in a file.

Neither the expression nor the keys are recorded anywhere, not even as a hash: a hash of
one short key (or of ``id == 'P0003'``) is found again by hashing candidates. The trail
keeps the kind of request and its counts; the request id is random.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assayml.errors import BadInputError


@dataclass
class Selection:
    kind: str  # where | keys
    mask: np.ndarray  # over the current table's rows
    rows: set[str] = field(default_factory=set)  # their row fingerprints
    keys: set[str] = field(default_factory=set)  # their subjects' key fingerprints
    key_column: str | None = None
    key_values: pd.Series | None = None  # the requested keys, typed like the table's column
    expression: str | None = None
    unmatched_keys: int = 0  # requested keys no row of the current table holds
    selected: pd.DataFrame | None = None  # the rows themselves: in memory only, never written

    def matches(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """The same request applied to another table (captured inputs): a mask."""
        if self.kind == "where":
            return query_mask(frame, self.expression or "", where)
        if self.key_column not in frame.columns:
            raise BadInputError(f"{where}: no column '{self.key_column}' to match keys on")
        values = typed_like(self.key_values, frame[self.key_column], where)
        return frame[self.key_column].isin(values).to_numpy()

    def matches_values(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """Rows of ``frame`` whose values (in the columns it has) equal a selected row's:
        how captured requests are found when they lack the key and the query's columns."""
        from assayml.data.fingerprints import row_fingerprints

        columns = list(frame.columns)
        missing = [c for c in columns if self.selected is None or c not in self.selected]
        if missing or not columns:
            raise BadInputError(f"{where}: columns {missing} are not in the table")
        typed = frame.copy()
        for column in columns:
            typed[column] = typed_like(frame[column], self.selected[column], where)
        wanted = set(row_fingerprints(loose(self.selected[columns])))
        return row_fingerprints(loose(typed)).isin(wanted).to_numpy()


def loose(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats to 9 significant digits: a value that went through a client's JSON or a CSV
    writer may differ from the table's in its last bits, and is still the same value."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].map(lambda v: float(f"{v:.9g}") if pd.notna(v) else v)
    return out


def query_mask(frame: pd.DataFrame, expression: str, where: str) -> np.ndarray:
    """``frame.query(expression)`` as a mask; a bad expression is bad input, named."""
    try:
        mask = frame.eval(expression)
    except Exception as err:  # pandas raises many kinds: undefined names, syntax, types
        raise BadInputError(f"--where: cannot evaluate on {where}: {err}") from None
    if not isinstance(mask, pd.Series) or not pd.api.types.is_bool_dtype(mask):
        raise BadInputError(f"--where: the expression must give True/False per row of {where}")
    return mask.fillna(False).to_numpy(dtype=bool)


def typed_like(keys: pd.Series, column: pd.Series, where: str) -> pd.Series:
    """The keys in the column's dtype: ``7`` and ``"7"`` are different subjects unless the
    column's type makes them the same, so they are cast, not compared as text."""
    try:
        return keys.astype(column.dtype)
    except (TypeError, ValueError) as err:
        raise BadInputError(
            f"--keys: the keys cannot be read as {column.dtype} like column "
            f"'{column.name}' of {where}: {err}"
        ) from None


def read_keys(path: str | Path, column: str) -> pd.Series:
    """The key column of a CSV or Parquet file, without missing values or duplicates."""
    path = Path(path)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise BadInputError(f"--keys: {path}: no such file") from None
    except Exception as err:
        raise BadInputError(f"--keys: {path}: cannot read it: {err}") from None
    if column not in frame.columns:
        raise BadInputError(
            f"--keys: {path} has no column '{column}' (columns: {', '.join(map(str, frame))})"
        )
    keys = frame[column].dropna().drop_duplicates().reset_index(drop=True)
    if keys.empty:
        raise BadInputError(f"--keys: {path}: column '{column}' holds no keys")
    return keys


def by_expression(frame: pd.DataFrame, expression: str, where: str) -> Selection:
    mask = query_mask(frame, expression, where)
    return Selection("where", mask, expression=expression)


def by_keys(frame: pd.DataFrame, keys: pd.Series, column: str, where: str) -> Selection:
    if column not in frame.columns:
        raise BadInputError(f"--key: {where} has no column '{column}'")
    typed = typed_like(keys, frame[column], where)
    mask = frame[column].isin(typed).to_numpy()
    unmatched = int((~typed.isin(frame[column])).sum())
    return Selection(
        "keys",
        mask,
        key_column=column,
        key_values=typed,
        unmatched_keys=unmatched,
    )
