"""Seeded train/val/test split, stratified on the target for classification."""

from __future__ import annotations

import pandas as pd

from assayml.config.schema import SplitConfig, Task
from assayml.errors import DataError

SPLITS = ("train", "val", "test")


def split_frame(
    frame: pd.DataFrame, target: str, task: Task, cfg: SplitConfig, seed: int
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` into train, val and test with the configured fractions.

    Raises:
        DataError: when a class has too few rows to appear in every split.
    """
    from sklearn.model_selection import train_test_split

    stratify = cfg.stratify and task is not Task.regression
    if stratify:
        _check_class_counts(frame[target])
    # Row counts, not fractions: sklearn rounds a fraction of the remainder up.
    n_test, n_val = round(len(frame) * cfg.test), round(len(frame) * cfg.val)
    if min(n_test, n_val, len(frame) - n_test - n_val) < 1:
        raise DataError(f"{len(frame)} rows are too few to split {cfg.train}/{cfg.val}/{cfg.test}")
    try:
        labels = frame[target] if stratify else None
        rest, test = train_test_split(frame, test_size=n_test, random_state=seed, stratify=labels)
        labels = rest[target] if stratify else None
        train, val = train_test_split(rest, test_size=n_val, random_state=seed, stratify=labels)
    except ValueError as err:  # e.g. fewer test rows than classes
        raise DataError(f"cannot split {len(frame)} rows as configured: {err}") from err
    parts = {"train": train, "val": val, "test": test}
    return {name: part.sort_index().reset_index(drop=True) for name, part in parts.items()}


def _check_class_counts(labels: pd.Series) -> None:
    counts = labels.value_counts()
    rare = counts[counts < len(SPLITS)]
    if not rare.empty:
        shown = ", ".join(f"{k!r} ({v} rows)" for k, v in rare.items())
        raise DataError(
            f"target: classes {shown} have fewer than {len(SPLITS)} rows, too few for a "
            "stratified split (set data.split.stratify=false or add data)"
        )
