"""Production traffic as a comparison holdout: captured requests (``assay serve
--capture``) with the labels that arrived later, joined by capture id.

Only live requests are used (a shadow's records sit in their own sub-folder), and only
rows whose label has arrived; both versions then score the same captured inputs, so the
paired tests of ``registry.compare`` apply unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from assayml.errors import DataError


def traffic_holdout(
    traffic: str | Path, ground_truth: str | Path, target: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(captured inputs with the target column, a summary of the join)."""
    from assayml.monitor.ground_truth import join_labels
    from assayml.monitor.inputs import read_current

    folder = Path(traffic)
    if not folder.is_dir():
        raise DataError(f"--traffic {folder}: not a capture folder")
    current = read_current(folder)
    truth = join_labels(ground_truth, current.ids, len(current.frame), target)
    if truth.summary["join"] == "row order":
        # captured rows are ordered by file time, which a rewrite can change: only ids join
        raise DataError(
            f"{ground_truth}: no 'id' or 'capture_id' column: labels for traffic are joined "
            "by capture id, never by row order"
        )
    labelled = truth.labels.notna().to_numpy()
    if not labelled.any():
        raise DataError(
            f"{ground_truth}: no label matches a captured request in {folder} "
            f"({truth.summary['labels']} labels, joined on {truth.summary['join']})"
        )
    holdout = current.frame.reset_index(drop=True).loc[labelled].copy()
    holdout[target] = truth.labels[labelled].to_numpy()
    summary = {"traffic": str(folder), "captured_rows": len(current.frame), **truth.summary}
    return holdout.reset_index(drop=True), summary
