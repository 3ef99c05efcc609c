"""``bias.json``'s ``mitigation`` section: the method, its fitted state, and the bias
metrics and accuracy before and after it on the explained split.

The rest of ``bias.json`` describes the model as it predicts (post-processing applied).
Post-processing's "before" is the same model's own decisions at its threshold, scored by
the same code (:func:`assayml.explain.bias_report.bias_report`). Reweighing changes the
weights, not the decisions: its "before" model is another run (train with
``mitigation=none`` and compare); here it reports the training labels' disparity (DPL)
without and with the weights, which Kamiran-Calders weights bring to zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from assayml.mitigation.record import mitigation_card
from assayml.utils import groups as typed


def mitigation_report(
    record: dict[str, Any],
    after: dict[str, Any],
    y: np.ndarray,
    predicted_after: np.ndarray,
    unmitigated: Callable[[], tuple[dict[str, Any], np.ndarray]],
    train: tuple[pd.DataFrame, str, Any],
) -> dict[str, Any]:
    """The section; ``unmitigated()`` gives (bias report, predicted classes) without the
    post-processing; ``train`` is (train rows, target column, favourable label)."""
    section = {
        "method": record["method"],
        "facet": record["facet"],
        "state_file": "models/mitigation.json",
        "state": mitigation_card(record),
        "after": _post_training(after),
    }
    accuracy_after = float(np.mean(predicted_after == y))
    if record["method"] == "threshold_optimizer":
        before, predicted_before = unmitigated()
        accuracy_before = float(np.mean(predicted_before == y))
        section["before"] = _post_training(before)
        section["accuracy"] = {
            "before": accuracy_before,
            "after": accuracy_after,
            "cost": accuracy_before - accuracy_after,  # > 0: accuracy given up for parity
        }
    else:
        section["before"] = None
        section["accuracy"] = {"before": None, "after": accuracy_after, "cost": None}
        section["training_labels"] = weighted_label_disparity(*train, record["facet"])
        section["note"] = (
            "reweighing changes the training weights: compare with a run trained with "
            "mitigation=none for the post-training figures before it"
        )
    return section


def _post_training(report: dict[str, Any]) -> dict[str, Any]:
    """Per facet: reference, each group's post-training metrics, fairlearn's figures."""
    return {
        column: {
            "reference": facet["reference"],
            "groups": {g: r["post_training"] for g, r in facet["groups"].items()},
            "fairlearn": facet["fairlearn"],
        }
        for column, facet in report["facets"].items()
    }


def weighted_label_disparity(train: pd.DataFrame, target: str, favourable, column: str):
    """Each group's favourable-label rate in the training split, unweighted and weighted
    by the reweighing weights (equal across groups when the weights are right)."""
    from assayml.mitigation.reweighing import reweighing_weights

    y = typed.matches(train[target], favourable).astype(int)
    weights, _ = reweighing_weights(train[column], y)
    names = typed.group_names(train[column])
    rates = {}
    for group in typed.sorted_groups(set(names)):
        rows = names == group
        w = weights[rows].astype(np.float64)
        rates[group] = {
            "unweighted": float(y[rows].mean()),
            "weighted": float(np.sum(w * y[rows]) / np.sum(w)),
        }
    return {"favourable_rate": rates}


def mitigation_summary(section: dict[str, Any]) -> dict[str, Any]:
    """Flat figures for the explain record and the audit trail: DPPL of each group of the
    mitigated facet, before and after, and the accuracy cost."""
    facet = section["facet"]
    summary = {"method": section["method"], "facet": facet}
    summary["accuracy_cost"] = section["accuracy"]["cost"]
    for side in ("before", "after"):
        table = (section[side] or {}).get(facet)
        for group, metrics in (table or {}).get("groups", {}).items():
            summary[f"DPPL_{side}[{group}]"] = metrics.get("DPPL")
    return summary
