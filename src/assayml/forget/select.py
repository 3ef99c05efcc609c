"""Which rows a deletion request names: a pandas query, or keys listed in a file.

Neither the expression nor the keys are recorded anywhere, not even as a hash: a hash of
one short key (or of ``id == 'P0003'``) is found again by hashing candidates. The trail
keeps the kind of request and its counts; the request id is random.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assayml.data.fingerprints import canonical_keys
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
        wanted = set(canonical_keys(self.key_values)) - {None}
        return canonical_keys(frame[self.key_column]).isin(wanted).to_numpy()

    def matches_values(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """Rows of ``frame`` whose values, in the columns it shares with the table, equal a
        selected row's: how captured requests are found when they lack the key and the
        query's columns (a column the table lacks, in some record, is not compared)."""
        from assayml.data.fingerprints import row_fingerprints

        known = [] if self.selected is None else list(self.selected.columns)
        columns = [c for c in frame.columns if c in known]
        if not columns:
            raise BadInputError(f"{where}: no captured input is a column of the table")
        mine, theirs = comparable(self.selected[columns], frame[columns])
        wanted = set(row_fingerprints(loose(mine)))
        return row_fingerprints(loose(theirs)).isin(wanted).to_numpy()


def comparable(selected: pd.DataFrame, other: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables in one form per column: numbers as float64 (a value that is not a
    number matches nothing; it never stops the search nor is echoed), else text."""
    left, right = selected.copy(), other.copy()
    for column in left.columns:
        if pd.api.types.is_numeric_dtype(left[column]) and not pd.api.types.is_bool_dtype(
            left[column]
        ):
            left[column] = pd.to_numeric(left[column], errors="coerce").astype("float64")
            right[column] = pd.to_numeric(right[column], errors="coerce").astype("float64")
        else:
            left[column] = left[column].astype(object).where(left[column].notna(), None)
            right[column] = right[column].astype(object).where(right[column].notna(), None)
            left[column] = left[column].map(lambda v: v if v is None else str(v))
            right[column] = right[column].map(lambda v: v if v is None else str(v))
    return left, right


def loose(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats to 9 significant digits: a value that went through a client's JSON or a CSV
    writer may differ from the table's in its last bits, and is still the same value."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].map(lambda v: float(f"{v:.9g}") if pd.notna(v) else v)
    return out


# What a --where expression may hold: names (columns), constants, comparisons, boolean
# and arithmetic operators, tuples and lists (for `in`). No calls, attributes, subscripts
# or `@` variables: pandas' eval would otherwise let a request's text call methods on the
# columns (`age.to_csv('/x')`) or on module globals, and the text often comes from a ticket.
ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.And,
    ast.Or,
    ast.Not,
    ast.Invert,
    ast.USub,
    ast.UAdd,
    ast.BitAnd,
    ast.BitOr,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)


def check_expression(expression: str, columns: list[str]) -> None:
    """Refuse anything but comparisons of columns and constants (exit 2, saying what)."""
    if "@" in expression or "`" in expression:
        raise BadInputError("--where: '@' variables and backquoted names are not allowed")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise BadInputError(f"--where: not an expression: {err.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise BadInputError(
                f"--where: {type(node).__name__} is not allowed: give comparisons of "
                'columns and constants joined by and/or/not (e.g. "age > 80 and site == '
                "'east'\", \"patient_id in ['P1', 'P2']\")"
            )
        if (
            isinstance(node, ast.Name)
            and node.id not in columns
            and node.id
            not in (
                "True",
                "False",
            )
        ):
            raise BadInputError(f"--where: '{node.id}' is not a column of the table")


def query_mask(frame: pd.DataFrame, expression: str, where: str) -> np.ndarray:
    """``frame.query(expression)`` as a mask; a bad expression is bad input, named."""
    check_expression(expression, [str(c) for c in frame.columns])
    try:
        mask = frame.eval(expression, local_dict={}, global_dict={})
    except Exception as err:  # pandas raises many kinds: undefined names, syntax, types
        raise BadInputError(f"--where: cannot evaluate on {where}: {err}") from None
    if not isinstance(mask, pd.Series) or not pd.api.types.is_bool_dtype(mask):
        raise BadInputError(f"--where: the expression must give True/False per row of {where}")
    return mask.fillna(False).to_numpy(dtype=bool)


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
    """Rows whose key equals a requested one in canonical form (7, 7.0 and "7" alike);
    a key no row holds is counted, never echoed."""
    if column not in frame.columns:
        raise BadInputError(f"--key: {where} has no column '{column}'")
    wanted = set(canonical_keys(keys)) - {None}
    present = canonical_keys(frame[column])
    mask = present.isin(wanted).to_numpy()
    unmatched = len(wanted - set(present))
    return Selection("keys", mask, key_column=column, key_values=keys, unmatched_keys=unmatched)
