"""Validate a raw table against the schema declared in the data config, with pandera.

A violation becomes one :class:`~assayml.errors.DataError` that names, for each failing
column and check, the first offending rows (0-based data rows, header excluded) and values.
"""

from __future__ import annotations

import pandas as pd

from assayml.config.schema import ColumnSpec, ColumnType, DataConfig
from assayml.errors import DataError

MAX_ROWS_SHOWN = 5  # offending rows named per column and check


def declared_columns(cfg: DataConfig, frame: pd.DataFrame) -> dict[str, ColumnSpec]:
    """The declared columns, or, where none are declared, a schema inferred from ``frame``."""
    return dict(cfg.columns) if cfg.columns else infer_columns(frame)


def infer_columns(frame: pd.DataFrame) -> dict[str, ColumnSpec]:
    """A permissive schema: numeric columns as float, the rest as categories."""
    columns = {}
    for name, series in frame.items():
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        dtype = ColumnType.float if numeric else ColumnType.category
        columns[str(name)] = ColumnSpec(dtype=dtype, nullable=bool(series.isna().any()))
    return columns


def validate_frame(frame: pd.DataFrame, cfg: DataConfig, where: str) -> pd.DataFrame:
    """Check ``frame`` against the schema and return it with declared dtypes, declared
    columns only, in declared order.

    Args:
        frame: the raw table.
        cfg: the data config (columns, target).
        where: the file or data set name, used in error messages.

    Raises:
        DataError: for an empty table, a missing target and every schema violation.
    """
    import pandera.pandas as pa

    if frame.shape[0] == 0:
        raise DataError(f"{where}: the table has no rows")
    if cfg.target not in frame.columns:
        raise DataError(
            f"{where}: target column '{cfg.target}' is missing; {_suggest(cfg.target, frame)}"
        )
    columns = declared_columns(cfg, frame)
    schema = pa.DataFrameSchema(
        {name: _column(name, spec, name == cfg.target) for name, spec in columns.items()},
        strict="filter",
        ordered=False,
    )
    try:
        validated = schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise DataError(
            f"{where}: schema violations, nothing was written:\n"
            + describe_failures(err.failure_cases)
        ) from None
    return validated[list(columns)].reset_index(drop=True)


def _suggest(name: str, frame: pd.DataFrame) -> str:
    """Every column of the table, the closest names to ``name`` first."""
    import difflib

    columns = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    close += [c for c in columns if c.lower() == name.lower() and c not in close]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"{hint}columns ({len(columns)}): {', '.join(columns)}"


def _column(name: str, spec: ColumnSpec, is_target: bool):
    import pandera.pandas as pa

    checks = []
    if spec.min is not None:
        checks.append(pa.Check.ge(spec.min))
    if spec.max is not None:
        checks.append(pa.Check.le(spec.max))
    if spec.allowed is not None:
        checks.append(pa.Check.isin(list(spec.allowed)))
    nullable = spec.nullable and not is_target  # a row without a label cannot be used
    return pa.Column(
        _pandas_dtype(spec, nullable), checks=checks, nullable=nullable, coerce=True, name=name
    )


def _pandas_dtype(spec: ColumnSpec, nullable: bool) -> str:
    if spec.dtype is ColumnType.int:
        return "Int64" if nullable else "int64"
    if spec.dtype is ColumnType.bool:
        return "boolean" if nullable else "bool"
    if spec.dtype is ColumnType.float:
        return "float64"
    return "str"


def describe_failures(cases: pd.DataFrame) -> str:
    """One line per (column, check): the check, the first offending rows and values."""
    lines = []
    missing = cases[cases["check"] == "column_in_dataframe"]
    if not missing.empty:
        names = ", ".join(f"'{v}'" for v in missing["failure_case"])
        lines.append(f"  declared columns missing from the data: {names}")
    cases = cases[cases["check"] != "column_in_dataframe"]
    coerced = set(cases.loc[cases["check"].str.startswith("coerce_dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        located = group[group["index"].notna()]
        # A failed coercion also fails the dtype check and, with no row, value checks:
        # report the coercion only.
        knock_on = check.startswith("dtype(") or located.empty
        if column in coerced and knock_on:
            continue
        lines.append(f"  column '{column}', check {check}: {_rows(located, group)}")
    return "\n".join(lines)


def _rows(located: pd.DataFrame, group: pd.DataFrame) -> str:
    if located.empty:
        return ", ".join(str(v) for v in group["failure_case"].head(MAX_ROWS_SHOWN))
    head = located.head(MAX_ROWS_SHOWN)
    rows = ", ".join(str(int(i)) for i in head["index"])
    values = ", ".join(repr(v) for v in head["failure_case"])
    more = f" and {len(located) - len(head)} more" if len(located) > len(head) else ""
    return f"rows {rows}{more} (values {values})"


def split_valid(frame: pd.DataFrame, columns: dict[str, ColumnSpec], inputs: list[str]):
    """(valid rows, rejected rows with a ``reject_reason`` column): each row checked against
    the schema of the ``inputs`` columns; the target is not required at predict time."""
    import pandera.pandas as pa

    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DataError(f"input is missing columns: {', '.join(missing)}")
    schema = pa.DataFrameSchema(
        {c: _column(c, columns[c], False) for c in inputs}, strict=False, ordered=False
    )
    try:
        return schema.validate(frame, lazy=True), frame.iloc[:0].assign(reject_reason=[])
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases.dropna(subset=["index"])
    reasons: dict[int, list[str]] = {}
    for _, case in cases.iterrows():
        reasons.setdefault(int(case["index"]), []).append(
            f"{case['column']}: {case['check']} ({case['failure_case']!r})"
        )
    bad = frame.index.isin(list(reasons))
    valid = schema.validate(frame[~bad], lazy=True) if (~bad).any() else frame.iloc[:0]
    rejects = frame[bad].assign(
        reject_reason=["; ".join(dict.fromkeys(reasons[i])) for i in frame.index[bad]]
    )
    return valid, rejects
