"""What the model card, the stage record (and so the audit trail) and ``bias.json`` say
about a model's bias mitigation."""

from __future__ import annotations

from typing import Any

from assayml.mitigation import STATE_FILE


def mitigation_card(record: dict[str, Any] | None) -> dict[str, Any]:
    """The model card's ``mitigation`` entry: the method, the facet, where the fitted state
    lies, and the validation split's figures before and after (post-processing)."""
    if record is None:
        return {"method": "none"}
    card = {"method": record["method"], "facet": record["facet"], "state_file": STATE_FILE}
    if record["method"] == "reweighing":
        card["weights"] = record["weights"]
    else:
        post = record["postprocess"]
        card |= {k: post[k] for k in ("constraint", "objective", "unknown_group", "seed")}
        card["groups"] = post["groups"]
        card["validation"] = record["validation"]
    return card


def mitigation_details(record: dict[str, Any]) -> dict[str, Any]:
    """Flat figures for the stage record and the audit trail."""
    details = {"method": record["method"], "facet": record["facet"]}
    if record["method"] == "reweighing":
        weights = [cell["weight"] for cell in record["weights"]]
        return details | {"weight_min": min(weights), "weight_max": max(weights)}
    validation = record["validation"]
    for side in ("before", "after"):
        details[f"val_accuracy_{side}"] = validation[side]["accuracy"]
        details[f"val_dp_difference_{side}"] = validation[side]["demographic_parity_difference"]
    return details


def postprocess_summary(state: dict[str, Any], pred) -> dict[str, Any]:
    """``evaluate.json``'s note: its decisions are post-processed, and how many rows fell
    back to the model's own threshold (a group the thresholds were not fitted on)."""
    applied = pred.uncertainty.get("mitigated")
    unknown = 0 if applied is None else int((applied == 0).sum())
    return {
        "method": "threshold_optimizer",
        "facet": state["column"],
        "constraint": state["constraint"],
        "rows_unknown_group": unknown,
    }
