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

from assayml.config.schema import INSIGHT_KINDS
from assayml.data.leakage import leakage_scores

KINDS = INSIGHT_KINDS
UNNAMED = re.compile(r"^(Unnamed: \d+|index|)$")
MIN_ID_ROWS = 20  # fewer rows than this say nothing about an identifier
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
    """Findings about whole rows and the label: duplicate rows (compared without the
    ``identifiers``: a saved index makes every row unique), class imbalance."""
    found = []
    rows = frame.drop(columns=[c for c in identifiers if c != target])
    # One 64-bit hash per row (pandas' own, over every column) instead of comparing rows
    # column by column: a tenth of the time, and a false match has odds of ~1e-8 at 1M rows.
    repeated = pd.Series(pd.util.hash_pandas_object(rows, index=False)).duplicated()
    if repeated.any():
        conflicting = _conflicting_labels(rows, target)
        count = int(repeated.sum())
        ignored = f" (ignoring {', '.join(identifiers)})" if identifiers else ""
        found.append(
            Insight(
                "duplicate_rows",
                [],
                count,
                f"{count} rows ({count / len(frame):.1%}) repeat an earlier row exactly"
                + ignored
                + (f"; {conflicting} input patterns carry different labels" if conflicting else ""),
            )
        )
    if task != "regression":
        found += imbalance(frame[target].value_counts(dropna=True), target, cfg.imbalance_ratio)
    return found


def identifier_columns(found: list[Insight]) -> list[str]:
    return [c for i in found if i.kind == "id_like" for c in i.columns]


def _conflicting_labels(frame: pd.DataFrame, target: str) -> int:
    """Input patterns that occur more than once with different labels."""
    inputs = [c for c in frame.columns if c != target]
    if not inputs:
        return 0
    same = frame[frame.duplicated(subset=inputs, keep=False)]
    return int(same.groupby(inputs, dropna=False)[target].nunique().gt(1).sum())


def imbalance(counts: pd.Series, target: str, ratio: float) -> list[Insight]:
    """``class_imbalance``: the rarest class is rarer than ``ratio`` times the commonest
    (ten balanced classes, at 10 % each, are not imbalanced)."""
    if counts.sum() == 0 or len(counts) < 2:
        return []
    rarest, commonest = counts.idxmin(), counts.idxmax()
    found = float(counts.min() / counts.max())
    if found >= ratio:
        return []
    share = float(counts.min() / counts.sum())
    return [
        Insight(
            "class_imbalance",
            [target],
            round(found, 6),
            f"class {rarest!s} of '{target}' ({share:.1%} of the rows) is {found:.3f} times "
            f"as common as class {commonest!s} (under {ratio}): accuracy flatters; look at "
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
        return [Insight("id_like", [column], 1.0, f"'{column}' looks like a saved row index")]
    if rows < MIN_ID_ROWS:
        return []
    integral = _integral(series)
    if integral is not None and len(integral) == rows and bool(np.all(np.diff(integral) == 1)):
        return [
            Insight(
                "id_like",
                [column],
                1.0,
                f"'{column}' counts up by one in every row: a row index, not a feature",
            )
        ]
    text = not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    if integral is None and not text:  # a measurement: unique values mean nothing here
        return []
    share = series.nunique(dropna=True) / rows
    if share >= ID_UNIQUE_SHARE:
        return [
            Insight(
                "id_like",
                [column],
                round(float(share), 6),
                f"'{column}' is unique in {share:.1%} of the rows: an identifier lets a model "
                "memorise rows",
            )
        ]
    return []


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
    counts = raw.dropna().astype(str).value_counts(sort=False)  # each distinct text once
    if counts.empty:
        return []
    numbers = pd.to_numeric(counts.index.to_series(), errors="coerce").notna().to_numpy()
    share = float(counts[numbers].sum() / counts.sum())
    if not 0.5 <= share < 1.0:
        return []
    examples = ", ".join(repr(v) for v in counts.index[~numbers][:3])
    return [
        Insight(
            "mixed_types",
            [column],
            round(share, 6),
            f"'{column}' is {share:.1%} numbers and the rest text ({examples}): read as "
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
    share = float(series.isna().mean()) if rows else 0.0
    if share <= limit:
        return []
    return [
        Insight(
            "high_missing",
            [column],
            round(share, 6),
            f"'{column}' is missing in {share:.1%} of the rows (over {limit:.0%})",
        )
    ]


def _cardinality(column: str, series: pd.Series, rows: int, limit: int) -> list[Insight]:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return []
    distinct = int(series.nunique(dropna=True))
    if distinct <= limit or distinct >= ID_UNIQUE_SHARE * rows:  # id_like says it
        return []
    return [
        Insight(
            "high_cardinality",
            [column],
            distinct,
            f"'{column}' has {distinct} categories (over {limit}): one-hot encoding makes "
            "as many inputs, most of them rare",
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
