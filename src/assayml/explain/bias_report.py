"""``bias.json``: pre-training metrics on the training labels, post-training metrics on the
explained split's predictions, per sensitive column and group, with pass/fail flags from the
configured thresholds and fairlearn's figures for the quantities it also computes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import BiasConfig
from assayml.explain import bias as metrics


def favourable_label(classes: list[Any], cfg: BiasConfig) -> Any:
    """The favourable outcome: configured, or the last class (1 for 0/1 labels)."""
    return classes[-1] if cfg.positive_label is None else cfg.positive_label


def bias_report(
    train: pd.DataFrame,
    split: pd.DataFrame,
    predicted: np.ndarray,
    target: str,
    sensitive: list[str],
    references: dict[str, str],
    favourable: Any,
    predict_favourable: Callable[[pd.DataFrame], np.ndarray],
    cfg: BiasConfig,
    score: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics for every sensitive column against its reference group (configured, or the
    largest group in training)."""
    y_train = (train[target].astype(str) == str(favourable)).to_numpy().astype(int)
    y = (split[target].astype(str) == str(favourable)).to_numpy().astype(int)
    y_hat = (pd.Series(predicted).astype(str) == str(favourable)).to_numpy().astype(int)
    facets = {}
    for column in sensitive:
        reference = references.get(column) or str(train[column].astype(str).mode().iloc[0])
        facets[column] = _facet(
            train, split, column, reference, y_train, y, y_hat, predict_favourable, cfg, score
        )
    flags = [
        f"{column}={group}: {name}"
        for column, facet in facets.items()
        for group, result in facet["groups"].items()
        for name in result["flagged"]
    ]
    return {
        "favourable_label": favourable,
        "facets": facets,
        "generalized_entropy": round(metrics.generalized_entropy(y, y_hat), 6),
        "flags": flags,
        "passed": not flags,
    }


def _facet(train, split, column, reference, y_train, y, y_hat, predict_favourable, cfg, score):
    strata_train = _strata(train, cfg.group_by)
    strata = _strata(split, cfg.group_by)
    facet_train = train[column].astype(str).to_numpy()
    facet = split[column].astype(str).to_numpy()
    groups = {}
    for group in sorted(set(facet_train) - {reference}):
        pre = metrics.pre_training(y_train, facet_train, reference, group, strata_train)
        post = metrics.post_training(y, y_hat, facet, reference, group, strata, score)
        rows = split[facet == group]
        post["FT"] = metrics.flip_test(
            predict_favourable, rows, column, _original(split, column, reference)
        )
        values = {k: round(float(v), 6) for k, v in {**pre, **post}.items()}
        groups[group] = {
            "pre_training": {k: values[k] for k in pre},
            "post_training": {k: values[k] for k in post},
            "rows": {
                "train": int((facet_train == group).sum()),
                "split": int((facet == group).sum()),
            },
            "flagged": _flagged(values, cfg.thresholds),
        }
    return {"reference": reference, "groups": groups, "fairlearn": _fairlearn(y, y_hat, facet)}


def _flagged(values: dict[str, float], thresholds: dict[str, list[float]]) -> list[str]:
    return [
        name
        for name, (low, high) in thresholds.items()
        if name in values and not low <= values[name] <= high
    ]


def _fairlearn(y: np.ndarray, y_hat: np.ndarray, facet: np.ndarray) -> dict[str, float]:
    """fairlearn's demographic parity and equalized odds differences (max - min over all
    groups), the cross-check of DPPL and of RD / the false-positive-rate gap."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    return {
        "demographic_parity_difference": round(
            float(demographic_parity_difference(y, y_hat, sensitive_features=facet)), 6
        ),
        "equalized_odds_difference": round(
            float(equalized_odds_difference(y, y_hat, sensitive_features=facet)), 6
        ),
    }


def _strata(frame: pd.DataFrame, column: str | None) -> np.ndarray | None:
    return None if column is None else frame[column].astype(str).to_numpy()


def _original(frame: pd.DataFrame, column: str, reference: str) -> Any:
    """The reference group as the column's own type (the flip test writes it into rows)."""
    values = frame[column].dropna()
    matches = values[values.astype(str) == reference]
    return matches.iloc[0] if len(matches) else reference
