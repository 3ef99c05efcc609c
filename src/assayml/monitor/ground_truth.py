"""Ground truth that arrives after the predictions: labels joined to captured rows by their
capture id, and the model-quality metrics of the served predictions against the
baseline's (every metric ``statistics.json`` holds, each with its bootstrap interval)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.errors import DataError
from assayml.monitor.checks import Violation
from assayml.utils import groups as typed

ID_COLUMNS = ("id", "capture_id")
LOWER_IS_BETTER = ("mae", "rmse")
RELATIVE = ("mae", "rmse")  # tolerance as a share of the baseline; else in metric units


@dataclass
class GroundTruth:
    labels: pd.Series  # aligned with the current rows; NaN where no label arrived
    summary: dict[str, Any]  # file, labels, labelled_rows, unlabelled_rows, unmatched_labels


def join_labels(path: str | Path, ids: pd.Series | None, rows: int, target: str) -> GroundTruth:
    """Labels from ``path`` (CSV/Parquet: the target column or ``label``, and ``id`` or
    ``capture_id``) joined to the rows' ids; row by row when either side has no id column
    and the lengths agree. A label without a value counts as not arrived."""
    from assayml.config.schema import FileFormat
    from assayml.data.sources import parse_table

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: ground-truth (labels) file not found")
    table = parse_table(path.read_bytes(), str(path), FileFormat.auto)
    column = target if target in table.columns else "label" if "label" in table else None
    if column is None:
        raise DataError(f"{path}: no '{target}' (or 'label') column")
    key = next((c for c in ID_COLUMNS if c in table.columns), None)
    given = table[table[column].notna()]
    if key is not None and ids is not None:
        if given[key].isna().any():
            row = int(given.index[given[key].isna()][0]) + 2  # header is line 1
            raise DataError(f"{path}: row {row} has a label but no '{key}'")
        names = pd.Series(typed.group_names(given[key]), index=given.index)
        repeated = names[names.duplicated(keep=False)]
        if len(repeated):
            rows_at = ", ".join(str(i + 2) for i in repeated.index[:5])
            raise DataError(
                f"{path}: column '{key}' repeats id {repeated.iloc[0]!r} (rows {rows_at})"
            )
        # ids compared as typed values: a key column read as 7.0 still finds "7"
        joined = pd.Series(given[column].to_numpy(), index=names.to_numpy())
        current = pd.Series(typed.group_names(ids))
        labels = current.map(joined).reset_index(drop=True)
        matched = int(names.isin(set(current)).sum())
    elif len(table) == rows:
        labels, matched = table[column].reset_index(drop=True), len(given)
    else:
        raise DataError(
            f"{path}: {len(table)} labels for {rows} rows, and no id column "
            f"({' or '.join(ID_COLUMNS)}) on both sides to join on"
        )
    labelled = int(labels.notna().sum())
    summary = {
        "file": str(path),
        "join": key if key is not None and ids is not None else "row order",
        "labels": len(given),
        "labelled_rows": labelled,
        "unlabelled_rows": rows - labelled,
        "unmatched_labels": len(given) - matched,
    }
    return GroundTruth(labels, summary)


def model_quality(
    statistics: dict[str, Any],
    task: str,
    y: np.ndarray,
    predicted: np.ndarray,
    probabilities: np.ndarray | None,
    cfg,
) -> tuple[dict[str, Any], list[Violation]]:
    """Each metric the baseline holds: now, its bootstrap std and 95 % interval, and a
    violation when it is worse than the baseline by more than ``quality_tolerance`` with
    the whole interval on the worse side (a small labelled sample alone raises nothing)."""
    from assayml.monitor.quality_metrics import bootstrap_weights
    from assayml.monitor.quality_metrics import metrics as weighted

    baseline = {k: v for k, v in statistics["model_quality"].items() if k != "rows"}
    ones = np.ones((1, len(y)))
    value = {k: _number(v[0]) for k, v in weighted(task, y, predicted, probabilities, ones).items()}
    rng = np.random.default_rng(statistics["seed"])
    resampled = weighted(
        task, y, predicted, probabilities, bootstrap_weights(len(y), cfg.bootstrap, rng)
    )
    empty = np.zeros(0)
    draws = {
        name: resampled.get(name, empty)[np.isfinite(resampled.get(name, empty))] for name in value
    }
    metrics, found = {}, []
    for name, current in value.items():
        base = baseline.get(name)
        if current is None or base is None or not len(draws[name]):
            metrics[name] = {"current": current, "baseline": base}
            continue
        low, high = (float(q) for q in np.percentile(draws[name], [2.5, 97.5]))
        margin = cfg.quality_tolerance * (abs(base) if name in RELATIVE else 1.0)
        if name in LOWER_IS_BETTER:
            worse = current > base + margin and low > base
        else:
            worse = current < base - margin and high < base
        metrics[name] = {
            "current": current,
            "baseline": base,
            "std": round(float(np.std(draws[name])), 6),
            "ci95": [round(low, 6), round(high, 6)],
            "violation": bool(worse),
        }
        if worse:
            found.append(
                Violation(
                    "model",
                    "model_quality_check",
                    f"{name} {current:.4f} against baseline {base:.4f}",
                    current,
                    base,
                )
            )
    primary = "rmse" if task == "regression" else "accuracy"
    main = metrics[primary]
    report = {
        "metric": primary,
        "baseline": main["baseline"],
        "current": main["current"],
        "spread": {"std": main.get("std"), "ci95": main.get("ci95")},
        "rows": len(y),
        "metrics": metrics,
    }
    return report, found


def _number(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None
