"""Data-quality insights at prepare: what a careful reviewer would say about a table before
any model sees it (anchors: SageMaker Data Wrangler's Data Quality and Insights report,
ydata-profiling's alerts).

Each finding is one entry of ``profile.json``'s ``insights``: ``kind``, ``columns``, the
figure behind it (``value``), and a one-line ``message``. Kinds:

- ``id_like``: an unnamed index column (``Unnamed: 0``), a monotone integer index (each row
  one more than the last), or an integer or text column unique in every row;
- ``constant``: one value (or none) in every row;
- ``duplicate_rows``: rows repeated whole (and how many of those disagree on the label
  with another row that has the same inputs);
- ``target_leakage``: one column alone predicts the target (univariate AUROC at least
  ``leakage_auroc`` for classification, |Spearman| at least ``leakage_spearman`` for
  regression, on the training split; text columns through out-of-fold target encoding);
- ``class_imbalance``: the rarest class is rarer than ``imbalance_ratio`` times the
  commonest;
- ``high_cardinality``: a text column with more than ``high_cardinality`` distinct values;
- ``mixed_types``: a text column whose values are mostly numbers (a stray ``?`` or ``N/A``
  turned a numeric column into categories);
- ``high_missing``: more than ``high_missing`` of a column's values are missing.

Hand-written rather than ydata-profiling: that library's report costs minutes on a million
rows and pins its own pandas and NumPy ranges; each check here is one vectorised pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assayml.data.leakage import leakage_scores
from assayml.utils import groups as typed

UNNAMED = re.compile(r"^(Unnamed: \d+|index|)$")
MIN_ID_ROWS = 50  # fewer rows than this say nothing about an identifier
ID_NAME = re.compile(r"(^|[^a-z])(id|ids|key|uuid|guid|mrn|number|no|num)$|id$", re.IGNORECASE)
ID_SPAN = 1.1  # a whole-number id spans about as many values as rows (max - min + 1)
ID_UNIQUE_SHARE = 0.99  # distinct values per row from which a whole-number or text column is
# an identifier (not 1.0: repeated rows repeat their id too)


@dataclass
class Insight:
    kind: str
    columns: list[str]
    value: float | int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "value": self.value,
            "message": self.message,
        }


def column_insights(frame: pd.DataFrame, raw: pd.DataFrame, target: str, cfg) -> list[Insight]:
    """Per-column findings on the whole validated table (``raw``: as read, for mixed
    types), in column order; the target is checked for constancy and missing values only."""
    found: list[Insight] = []
    rows = len(frame)
    for name, series in frame.items():
        column = str(name)
        if column != target:
            found += _id_like(column, series, rows)
            found += _mixed(column, raw[name] if name in raw.columns else series)
        found += _constant(column, series)
        found += _missing(column, series, rows, cfg.high_missing)
        if column != target:
            found += _cardinality(column, series, rows, cfg.high_cardinality)
    return found


def table_insights(
    frame: pd.DataFrame, target: str, task: str, cfg, identifiers: list[str] = ()
) -> list[Insight]:
    """Findings about whole rows and the label: duplicate rows and input patterns that
    carry different labels (compared without the ``identifiers``: a saved index makes every
    row unique), class imbalance."""
    found = []
    rows = frame.drop(columns=[c for c in identifiers if c != target])
    # One 64-bit hash per row (pandas' own, over every column) instead of comparing rows
    # column by column: a tenth of the time, and a false match has odds of ~1e-8 at 1M rows.
    repeated = int(pd.Series(pd.util.hash_pandas_object(rows, index=False)).duplicated().sum())
    conflicting = _conflicting_labels(rows, target)
    if repeated or conflicting:
        parts = [f"{repeated} rows ({repeated / len(frame):.1%}) repeat an earlier row exactly"]
        if conflicting:
            parts.append(f"{conflicting} input patterns occur with different labels")
        ignored = f" (ignoring {', '.join(sorted(identifiers))})" if identifiers else ""
        found.append(Insight("duplicate_rows", [], repeated, "; ".join(parts) + ignored))
    if task != "regression":
        found += imbalance(frame[target].value_counts(dropna=True), target, cfg.imbalance_ratio)
    return found


def identifier_columns(found: list[Insight]) -> list[str]:
    return [c for i in found if i.kind == "id_like" for c in i.columns]


def _conflicting_labels(frame: pd.DataFrame, target: str) -> int:
    """Input patterns that occur more than once with different labels."""
    inputs = frame.drop(columns=[target])
    if inputs.shape[1] == 0:
        return 0
    keys = pd.util.hash_pandas_object(inputs, index=False).to_numpy()
    labels = typed.group_names(frame[target])
    pairs = pd.DataFrame({"key": keys, "label": labels}).drop_duplicates()
    return int(pairs["key"].value_counts().gt(1).sum())


def imbalance(counts: pd.Series, target: str, ratio: float) -> list[Insight]:
    """``class_imbalance``: the rarest class is rarer than ``ratio`` times the commonest
    (ten balanced classes, at 10 % each, are not imbalanced)."""
    if counts.sum() == 0 or len(counts) < 2:
        return []
    rarest, commonest = typed.value_name(counts.idxmin()), typed.value_name(counts.idxmax())
    found = float(counts.min() / counts.max())
    if found >= ratio:
        return []
    share = float(counts.min() / counts.sum())
    return [
        Insight(
            "class_imbalance",
            [target],
            round(found, 6),
            f"class {rarest} of '{target}' ({share:.1%} of the rows) is {found:.3f} times "
            f"as common as class {commonest} (under {ratio}): accuracy flatters; look at "
            "per-class recall and AUROC",
        )
    ]


def leakage_insights(train: pd.DataFrame, target: str, task: str, cfg, seed: int) -> list:
    """``target_leakage`` for every input column, scored on the training split."""
    scores = leakage_scores(train, target, task, seed)
    limit = cfg.leakage_spearman if task == "regression" else cfg.leakage_auroc
    figure = "|Spearman|" if task == "regression" else "univariate AUROC"
    return [
        Insight(
            "target_leakage",
            [column],
            round(score, 6),
            f"'{column}' alone predicts '{target}' ({figure} {score:.3f} on train, at least "
            f"{limit}): is it known before the outcome, or derived from it?",
        )
        for column, score in scores.items()
        if score >= limit
    ]


def _id_like(column: str, series: pd.Series, rows: int) -> list[Insight]:
    if UNNAMED.match(column):
        return [saved_index(column)]
    if rows < MIN_ID_ROWS:
        return []
    integral = _integral(series)
    if integral is not None and len(integral) == rows and bool(np.all(np.diff(integral) == 1)):
        return [counting_up(column)]
    text = not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    if integral is None and not text:  # a measurement: unique values mean nothing here
        return []
    if integral is not None and not looks_numbered(column, integral, rows):
        return []  # whole numbers all different (incomes in cents) are not yet an id
    share = series.nunique(dropna=True) / rows
    return [unique_per_row(column, share)] if share >= ID_UNIQUE_SHARE else []


def looks_numbered(column: str, integral: np.ndarray, rows: int) -> bool:
    """A whole-number column can be an identifier: named like one (``patient_id``,
    ``record_no``), or its values fill a range about as wide as the table is long."""
    if ID_NAME.search(column):
        return True
    return len(integral) > 0 and int(integral.max() - integral.min()) + 1 <= ID_SPAN * rows


def saved_index(column: str) -> Insight:
    return Insight("id_like", [column], 1.0, f"'{column}' looks like a saved row index")


def counting_up(column: str) -> Insight:
    message = f"'{column}' counts up by one in every row: a row index, not a feature"
    return Insight("id_like", [column], 1.0, message)


def unique_per_row(column: str, share: float) -> Insight:
    return Insight(
        "id_like",
        [column],
        round(float(share), 6),
        f"'{column}' is unique in {share:.1%} of the rows: an identifier lets a model memorise "
        "rows",
    )


def missing_share(column: str, share: float, limit: float) -> list[Insight]:
    """``high_missing`` when more than ``limit`` of the values are missing."""
    if share <= limit:
        return []
    message = f"'{column}' is missing in {share:.1%} of the rows (over {limit:.0%})"
    return [Insight("high_missing", [column], round(share, 6), message)]


def _integral(series: pd.Series) -> np.ndarray | None:
    """The values as int64 when the column is numeric and every value is a whole number."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return series.dropna().to_numpy(dtype=np.int64)
    head = series.iloc[:1000].to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.mod(head[~np.isnan(head)], 1) == 0):  # most float columns end here
        return None
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    if not np.all(np.isfinite(values)) or not np.all(np.mod(values, 1) == 0):
        return None
    return values.astype(np.int64)


def _mixed(column: str, raw: pd.Series) -> list[Insight]:
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return []
    return mixed_types(column, *text_numbers(raw))


def text_numbers(raw: pd.Series) -> tuple[int, int, list[str]]:
    """(values that read as numbers, present values, the first texts that do not)."""
    counts = raw.dropna().astype(str).value_counts(sort=False)  # each distinct text once
    if counts.empty:
        return 0, 0, []
    numbers = pd.to_numeric(counts.index.to_series(), errors="coerce").notna().to_numpy()
    return int(counts[numbers].sum()), int(counts.sum()), list(counts.index[~numbers][:3])


def mixed_types(column: str, numbers: int, total: int, examples: list[str]) -> list[Insight]:
    """``mixed_types`` when at least half of a text column's values, but not all, are
    numbers."""
    share = numbers / total if total else 0.0
    if not 0.5 <= share < 1.0:
        return []
    shown = ", ".join(repr(v) for v in examples[:3])
    return [
        Insight(
            "mixed_types",
            [column],
            round(share, 6),
            f"'{column}' is {share:.1%} numbers and the rest text ({shown}): read as "
            "categories; declare it numeric and the text as missing, or clean it",
        )
    ]


def _constant(column: str, series: pd.Series) -> list[Insight]:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        distinct = 0 if present.size == 0 else 1 if present.min() == present.max() else 2
    else:
        distinct = series.nunique(dropna=True)
    if distinct > 1:
        return []
    message = f"'{column}' holds one value at most (besides missing ones)"
    return [Insight("constant", [column], int(distinct), message)]


def _missing(column: str, series: pd.Series, rows: int, limit: float) -> list[Insight]:
    return missing_share(column, float(series.isna().mean()) if rows else 0.0, limit)


def _cardinality(column: str, series: pd.Series, rows: int, limit: int) -> list[Insight]:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return []
    distinct = int(series.nunique(dropna=True))
    if distinct >= ID_UNIQUE_SHARE * rows:  # id_like says it
        return []
    return many_categories(column, distinct, limit)


def many_categories(column: str, distinct: int, limit: int, more: bool = False) -> list:
    """``high_cardinality`` when a text column has more than ``limit`` values (``more``: at
    least ``distinct``, counting stopped there)."""
    if distinct <= limit:
        return []
    count = f"more than {distinct - 1}" if more else str(distinct)
    return [
        Insight(
            "high_cardinality",
            [column],
            distinct,
            f"'{column}' has {count} categories (over {limit}): one-hot encoding makes as "
            "many inputs, most of them rare",
        )
    ]


def drop_id_like(
    frame: pd.DataFrame, found: list[Insight], keep: set[str]
) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` without its id_like columns (those in ``keep``, the target and sensitive
    columns, stay), and the names dropped."""
    dropped = [c for i in found if i.kind == "id_like" for c in i.columns if c not in keep]
    for insight in found:
        if insight.kind == "id_like" and insight.columns[0] in dropped:
            insight.message += " (dropped: data.insights.drop_id_like)"
    return frame.drop(columns=dropped), dropped


def refuse(found: list[Insight], fail_on: list[str], where: str) -> None:
    """Stop prepare when a finding is of a kind listed in ``data.insights.fail_on``.

    Raises:
        DataError: listing every such finding; nothing has been written.
    """
    from assayml.errors import DataError

    failing = [i for i in found if i.kind in fail_on]
    if failing:
        lines = "\n".join(f"  {i.kind}: {i.message}" for i in failing)
        raise DataError(
            f"{where}: data.insights.fail_on={list(fail_on)} and the data has such findings; "
            f"nothing was written:\n{lines}"
        )


def summary(found: list[Insight]) -> str:
    """One line for the stage's summary: the count, then each kind with its columns."""
    if not found:
        return "none"
    kinds: dict[str, list[str]] = {}
    for insight in found:
        kinds.setdefault(insight.kind, []).extend(insight.columns)
    parts = [f"{kind}: {', '.join(cols) or 'rows'}" for kind, cols in kinds.items()]
    return f"{len(found)} ({'; '.join(parts)})"
