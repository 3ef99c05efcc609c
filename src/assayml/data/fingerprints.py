"""Row fingerprints: what `assay forget` matches to find every version that holds a row.

Prepare writes ``fingerprints.parquet`` beside the splits: one SHA-256 per row of the
validated table (all its columns), and of its data subject's key when ``data.key`` names
a column. A deletion request selects rows in today's data and looks their fingerprints up
in each version's file, so old versions are never re-read or re-validated.

Hand-written canonical form (rather than ``pandas.util.hash_pandas_object``): its hashes
depend on dtype details and pandas' internals, while these must match across pandas
versions and between prepare and a later ``assay forget``. The hash is pseudonymous, not
anonymous: a row with few, guessable values can be found by hashing candidates.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

FINGERPRINT_FILE = "fingerprints.parquet"
DIGEST_CHARS = 32  # 128 bits of SHA-256: no collision among any realistic row count


def _cells(series: pd.Series) -> list[str]:
    """Each value in a canonical text form: numbers by value (1, 1.0 and True differ by
    dtype only in their column, so a column's form is fixed by its validated dtype)."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series):
        text = ["true" if v else "false" for v in series.fillna(False)]
    elif pd.api.types.is_integer_dtype(series):
        text = [str(int(v)) for v in series.fillna(0)]
    elif pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        text = [repr(float(v)) for v in values]
    else:
        text = [json.dumps(str(v), ensure_ascii=False) for v in series.astype(object)]
    return ["null" if m else t for t, m in zip(text, missing, strict=True)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def row_fingerprints(frame: pd.DataFrame) -> pd.Series:
    """One fingerprint per row over every column (in name order), indexed like ``frame``."""
    columns = sorted(frame.columns, key=str)
    names = [json.dumps(str(c), ensure_ascii=False) for c in columns]
    values = [_cells(frame[c]) for c in columns]
    texts = (
        "\x1f".join(f"{n}={v}" for n, v in zip(names, row, strict=True))
        for row in zip(*values, strict=True)
    )
    return pd.Series([_digest(t) for t in texts], index=frame.index, dtype=object)


def canonical_key(value) -> str | None:
    """A subject key's form whatever the column's inferred type: 7, 7.0 and "7" are one
    key (an id column read as floats today may be declared int tomorrow); other text is
    itself, stripped. None for a missing key."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def canonical_keys(values: pd.Series) -> pd.Series:
    return pd.Series([canonical_key(v) for v in values.astype(object)], index=values.index)


def key_fingerprints(values: pd.Series) -> pd.Series:
    """One fingerprint per data subject key (its canonical form); None where missing."""
    return pd.Series(
        [None if k is None else _digest(f"key\x1f{k}") for k in canonical_keys(values)],
        index=values.index,
        dtype=object,
    )


def fingerprint_table(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``split``, ``row`` (position in that split), ``fingerprint`` and, when recorded,
    ``key``: the file prepare writes, in split and row order."""
    tables = []
    for name, part in parts.items():
        table = pd.DataFrame({"split": name, "row": np.arange(len(part), dtype=np.int64)})
        table["fingerprint"] = part["fingerprint"].to_numpy()
        if "key" in part:
            table["key"] = part["key"].to_numpy()
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


MARKS = ("__assay_fingerprint__", "__assay_key__")  # carried through the split, then removed


def mark_rows(frame: pd.DataFrame, rows: pd.Series, keys: pd.Series | None) -> pd.DataFrame:
    """``frame`` with its fingerprints as two extra columns, so that they follow each row
    through the seeded split (which shuffles by index, never by these values)."""
    marked = frame.assign(**{MARKS[0]: rows.loc[frame.index]})
    if keys is not None:
        marked[MARKS[1]] = keys.loc[frame.index]
    return marked


def take_marks(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Remove the marks from each split (in place) and return the fingerprint table."""
    found = {}
    for name, part in parts.items():
        found[name] = pd.DataFrame({"fingerprint": part.pop(MARKS[0])})
        if MARKS[1] in part:
            found[name]["key"] = part.pop(MARKS[1])
    return fingerprint_table(found)
