"""``bias.json``: pre-training metrics on the training labels, post-training metrics on the
explained split's predictions, per sensitive column and group, with pass/fail flags from the
configured thresholds and fairlearn's figures for the quantities it also computes.

Labels, facet values and reference groups are compared as typed values through
:mod:`assayml.utils.groups` (a float label 1.0 is the favourable label 1); rows whose facet
value is missing form the group ``missing``, or are left out and counted
(``explain.bias.missing=drop``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import BiasConfig
from assayml.errors import DataError
from assayml.explain import bias as metrics
from assayml.utils import groups as typed

PRE_TRAINING = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST_TRAINING = (
    "DPPL",
    "DI",
    "DCAcc",
    "DCR",
    "RD",
    "SD",
    "AD",
    "TE",
    "DAR",
    "DRR",
    "CDDPL",
    "FT",
)


def favourable_label(classes: list[Any], cfg: BiasConfig) -> Any:
    """The favourable outcome: configured (checked against the classes, as typed values),
    or the last class (1 for 0/1 labels).

    Raises:
        DataError: when the configured label is not one of the classes.
    """
    if cfg.positive_label is None:
        return classes[-1]
    index = typed.index_of(classes, cfg.positive_label)
    if index is None:
        shown = ", ".join(typed.value_name(c) for c in classes)
        raise DataError(
            f"explain.bias.positive_label={cfg.positive_label!r} is not a class of the target "
            f"(classes: {shown})"
        )
    return classes[index]


def reference_group(
    train: pd.Series, configured: Any, column: str, missing: str | None = None
) -> str:
    """The name of ``column``'s reference group: the configured value matched as a typed
    value, or the largest present group in training (ties: the first in natural order).

    Raises:
        DataError: when the configured value matches no training row (naming those present).
    """
    names = typed.group_names(train, missing)
    counts = pd.Series(names[train.notna().to_numpy()]).value_counts(sort=False)
    present = typed.sorted_groups(counts.index)
    if configured is None or (isinstance(configured, str) and configured == ""):
        if not present:
            raise DataError(f"sensitive column '{column}': every training value is missing")
        order = {name: i for i, name in enumerate(present)}
        return str(max(present, key=lambda name: (counts[name], -order[name])))
    name = typed.typed_name(configured, train, missing)
    if name is None or not (names == name).any():
        raise DataError(
            f"data.reference_groups.{column}={configured!r} matches no training row; "
            f"values present in '{column}': {', '.join(present) or 'none'}"
        )
    return name


def bias_report(
    train: pd.DataFrame,
    split: pd.DataFrame,
    predicted: np.ndarray,
    target: str,
    sensitive: list[str],
    references: dict[str, Any],
    favourable: Any,
    predict_favourable: Callable[[pd.DataFrame], np.ndarray] | None,
    cfg: BiasConfig,
    score: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics for every sensitive column against its reference group (configured, or the
    largest group in training). Without ``predict_favourable`` (a model that does not see
    the sensitive columns) the flip test FT is None."""
    y_train = typed.matches(train[target], favourable).astype(int)
    y = typed.matches(split[target], favourable).astype(int)
    y_hat = typed.matches(pd.Series(list(predicted), dtype=object), favourable).astype(int)
    facets = {}
    for column in sensitive:
        gone = typed.missing_name_of(train[column], split[column])
        reference = reference_group(train[column], references.get(column), column, gone)
        facets[column] = _facet(
            train,
            split,
            (column, reference, gone),
            y_train,
            y,
            y_hat,
            predict_favourable,
            cfg,
            score,
        )
    flags = [
        f"{column}={group}: {name}"
        for column, facet in facets.items()
        for group, result in facet["groups"].items()
        for name in result["flagged"]
    ]
    return {
        "favourable_label": typed.value_name(favourable),
        "missing_facet_values": cfg.missing,
        "facets": facets,
        "generalized_entropy": _finite(metrics.generalized_entropy(y, y_hat)),
        "flags": flags,
        "passed": not flags,
    }


def _facet(train, split, names, y_train, y, y_hat, predict_favourable, cfg, score):
    """One sensitive column; ``names``: (column, reference group, missing group's name)."""
    column, reference, gone = names
    facet_train = typed.group_names(train[column], gone)
    facet = typed.group_names(split[column], gone)
    missing = {
        "train": int(train[column].isna().sum()),
        "split": int(split[column].isna().sum()),
    }
    keep_train = np.ones(len(train), bool)
    if cfg.missing == "drop":  # left out of every metric of this facet, and counted
        keep_train, keep = facet_train != gone, facet != gone
        y_train, facet_train = y_train[keep_train], facet_train[keep_train]
        y, y_hat, facet = y[keep], y_hat[keep], facet[keep]
        score = None if score is None else score[keep]
        split = split[keep]
    strata_train = _strata(train, cfg.group_by, keep_train)
    strata = _strata(split, cfg.group_by)
    original = _original(split, column, reference, gone)
    groups = {}
    for group in typed.sorted_groups((set(facet_train) | set(facet)) - {reference}):
        counts = {"train": int((facet_train == group).sum()), "split": int((facet == group).sum())}
        # A side without rows of the group (or of the reference) has no metrics: null, not
        # the zeros that empty counts would give.
        pre = (
            metrics.pre_training(y_train, facet_train, reference, group, strata_train)
            if counts["train"]
            else dict.fromkeys(PRE_TRAINING)
        )
        if counts["split"] and (facet == reference).any():
            post = metrics.post_training(y, y_hat, facet, reference, group, strata, score)
            rows = split[facet == group]
            post["FT"] = (
                None
                if predict_favourable is None
                else metrics.flip_test(predict_favourable, rows, column, original)
            )
        else:
            post = dict.fromkeys(POST_TRAINING if score is None else ("DPPS", *POST_TRAINING))
        values = {k: _finite(v) for k, v in {**pre, **post}.items()}
        groups[group] = {
            "pre_training": {k: values[k] for k in pre},
            "post_training": {k: values[k] for k in post},
            "rows": counts,
            "flagged": _flagged(values, cfg.thresholds),
        }
    return {
        "reference": reference,
        "reference_rows": {
            "train": int((facet_train == reference).sum()),
            "split": int((facet == reference).sum()),
        },
        "missing_rows": missing,
        "groups": groups,
        "fairlearn": _fairlearn(y, y_hat, facet),
    }


def _finite(value: float | None) -> float | None:
    """The value at full precision (auditors recompute it); None where the metric is
    undefined (a group absent from a side), so that no NaN reaches the JSON."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _flagged(values: dict[str, float | None], thresholds: dict[str, list[float]]) -> list[str]:
    return [
        name
        for name, (low, high) in thresholds.items()
        if values.get(name) is not None and not low <= values[name] <= high
    ]


def _fairlearn(y: np.ndarray, y_hat: np.ndarray, facet: np.ndarray) -> dict[str, float | None]:
    """fairlearn's demographic parity and equalized odds differences (max - min over all
    groups), the cross-check of DPPL and of RD / the false-positive-rate gap."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    if len(y) == 0:
        return {"demographic_parity_difference": None, "equalized_odds_difference": None}
    return {
        "demographic_parity_difference": _finite(
            demographic_parity_difference(y, y_hat, sensitive_features=facet)
        ),
        "equalized_odds_difference": _finite(
            equalized_odds_difference(y, y_hat, sensitive_features=facet)
        ),
    }


def _strata(frame: pd.DataFrame, column: str | None, keep: np.ndarray | None = None):
    if column is None:
        return None
    names = typed.group_names(frame[column])
    return names if keep is None else names[keep]


def _original(frame: pd.DataFrame, column: str, reference: str, missing: str) -> Any:
    """The reference group as the column's own type (the flip test writes it into rows)."""
    if reference == missing:
        return np.nan
    matching = frame[column][typed.group_names(frame[column], missing) == reference]
    if len(matching):
        return matching.iloc[0]
    return float(reference) if typed.is_numeric(frame[column]) else reference
