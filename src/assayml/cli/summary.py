"""One line per finished stage: where it wrote and the figures that matter."""

from __future__ import annotations

from pathlib import Path

from assayml.records import StageRecord

HEADLINE = {
    "prepare": ("task", "rows", "insights"),
    "features": ("features",),
    "train": ("epochs", "best_epoch", "best_score"),
    "evaluate": ("accuracy", "f1", "auroc", "mae", "rmse", "r2"),
    "explain": (
        "top_column",
        "ig_max_delta",
        "unstable",
        "counterfactual_validity",
        "surrogate_fidelity",
        "bias_flags",
        "bias",
    ),
    "baseline": ("features", "rows", "attributions"),
    "cv": ("accuracy_mean", "accuracy_std", "auroc_mean", "rmse_mean", "rmse_std", "r2_mean"),
}


def format_record(record: StageRecord) -> str:
    folders = sorted(
        {str(Path(p).parent) for p in record.outputs if Path(p).parent.name != "records"}
    )
    shown = []
    for key in HEADLINE.get(record.stage, ()):
        value = record.details.get(key)
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, dict):
            value = "/".join(str(v) for v in value.values())
        shown.append(f"{key}={value}")
    return f"{record.stage:<9} {', '.join(folders):<40} {'  '.join(shown)}"


def print_record(record: StageRecord) -> None:
    print(format_record(record), flush=True)
