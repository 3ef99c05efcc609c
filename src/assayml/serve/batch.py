"""Batch prediction over a table: the schema check, then the numeric checks the schema
cannot make (booleans read as numbers, infinities, values that overflow the model's float32
input, rows whose output is not finite); every refused row goes to the rejects with its
reason, the rest are predicted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assayml.serve.deployed import Deployed, prediction_columns
from assayml.serve.finite import (
    Problem,
    boolean_numbers,
    model_inputs,
    nonfinite_inputs,
    nonfinite_outputs,
    transform_overflows,
)

NUMERIC = ("float", "int")  # schema dtypes the numeric checks apply to


@dataclass
class BatchPrediction:
    valid: pd.DataFrame  # the predicted rows as validated (original index)
    output: pd.DataFrame  # those rows with their prediction columns (index 0..n-1)
    rejects: pd.DataFrame  # refused rows as read, with a ``reject_reason`` column


def predict_table(deployed: Deployed, frame: pd.DataFrame, threshold: float) -> BatchPrediction:
    """Check every row of ``frame`` and predict the ones that pass."""
    valid, rejects = deployed.validate(frame)
    numeric = [
        c for c in deployed.schema["inputs"] if deployed.schema["columns"][c]["dtype"] in NUMERIC
    ]
    raw = frame.loc[valid.index]
    problems = boolean_numbers(raw, numeric) + nonfinite_inputs(valid, numeric)
    valid, rejects = _move(valid, rejects, frame, problems)
    x = model_inputs(deployed.transform, valid)  # transformed once, for both uses
    overflows = transform_overflows(deployed.transform, valid, x)
    x = x[~np.isin(np.arange(len(valid)), [p.row for p in overflows])]
    valid, rejects = _move(valid, rejects, frame, overflows)
    if valid.empty:
        return BatchPrediction(valid, valid.reset_index(drop=True), rejects)
    columns = prediction_columns(deployed, deployed.predict_inputs(x, threshold))
    bad = nonfinite_outputs(columns)
    if bad:
        keep = ~np.isin(np.arange(len(valid)), [p.row for p in bad])
        valid, rejects = _move(valid, rejects, frame, bad)
        columns = columns[keep]
    output = pd.concat([valid.reset_index(drop=True), columns.reset_index(drop=True)], axis=1)
    return BatchPrediction(valid, output, rejects)


def _move(
    valid: pd.DataFrame, rejects: pd.DataFrame, frame: pd.DataFrame, problems: list[Problem]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Take the rows named by ``problems`` (positions in ``valid``) out of ``valid`` and add
    them, as read from ``frame``, to ``rejects`` with their reasons; rejects stay in input
    order."""
    if not problems:
        return valid, rejects
    reasons: dict[int, list[str]] = {}
    for p in problems:
        reasons.setdefault(p.row, []).append(p.text())
    labels = valid.index[sorted(reasons)]
    moved = frame.loc[labels].assign(
        reject_reason=["; ".join(dict.fromkeys(reasons[r])) for r in sorted(reasons)]
    )
    rejects = moved if rejects.empty else pd.concat([rejects, moved]).sort_index()
    return valid.drop(index=labels), rejects
