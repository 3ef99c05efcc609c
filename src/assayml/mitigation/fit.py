"""The train stage's part of mitigation: reweighing's weights before the fit, the
post-processing thresholds after it, and the record of either (``mitigation.json``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assayml.errors import ArtifactError, ConfigError
from assayml.mitigation import FORMAT_VERSION


def facet_column(cfg, sensitive: list[str]) -> str:
    """The mitigated column: ``mitigation.facet``, or the first sensitive column."""
    column = cfg.mitigation.facet or (sensitive[0] if sensitive else None)
    if column is None:
        raise ConfigError(
            f"mitigation={cfg.mitigation.method.value} needs a sensitive column: set "
            "data.sensitive or mitigation.facet"
        )
    return column


def check_mitigation(cfg, task: str) -> None:
    """Refuse combinations the methods do not cover (exit 2, saying why)."""
    method = cfg.mitigation.method.value
    if method == "threshold_optimizer" and task != "binary":
        raise ConfigError(
            f"mitigation=threshold_optimizer thresholds a binary classifier's probability; "
            f"this task is {task}"
        )
    if method == "reweighing" and task == "regression":
        raise ConfigError("mitigation=reweighing weights (group, label) cells: not for regression")


def reweigh(cfg, splits, sensitive: list[str], classes: list) -> dict[str, Any]:
    """Set the train split's loss weights (``splits.train.w``); returns their record."""
    import pandas as pd
    import torch

    from assayml.mitigation.reweighing import reweighing_weights

    column = facet_column(cfg, sensitive)
    path = Path(cfg.paths.prepared_dir) / "train.parquet"
    try:
        facet = pd.read_parquet(path, columns=[column])[column]
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise ArtifactError(f"{path}: cannot read the facet column '{column}': {err}") from err
    labels = splits.train.y.numpy()
    if len(facet) != len(labels):
        raise ArtifactError(
            f"{path}: {len(facet)} rows, the features' train split {len(labels)}: rerun "
            "`assay features`"
        )
    weights, table = reweighing_weights(facet, labels)
    splits.train.w = torch.from_numpy(weights)
    for cell in table["weights"]:
        cell["label"] = classes[cell["label"]]
    return {"format_version": FORMAT_VERSION, "method": "reweighing", "facet": column, **table}


def fit_postprocess(cfg, net, transform, val, sampling, sensitive: list[str]) -> dict[str, Any]:
    """Fit ThresholdOptimizer on the validation split; the record with its state and the
    split's figures before and after."""
    from assayml.mitigation.facet import facet_encoding, numeric_groups, read_groups
    from assayml.mitigation.postprocess import (
        fit_threshold_optimizer,
        postprocess,
        thresholds_state,
    )
    from assayml.models.inference import predict

    column = facet_column(cfg, sensitive)
    encoding = facet_encoding(transform, column)
    x, y = val.x.numpy(), val.y.numpy()
    numeric = numeric_groups(encoding, transform, x) if encoding["kind"] == "numeric" else None
    groups = read_groups(encoding, x, numeric)
    if any(g is None for g in groups):  # an all-zero one-hot: no category (should not happen)
        groups = np.where(groups == None, "unknown", groups)  # noqa: E711 (elementwise)
    plain = predict(net, transform, x, cfg.evaluate.threshold, replace(sampling, postprocess=None))
    score = plain.probabilities[:, 1]
    m = cfg.mitigation
    optimizer = fit_threshold_optimizer(
        score, y, groups, m.constraint.value, m.objective, m.grid_size
    )
    state = {
        "column": column,
        "encoding": encoding,
        "numeric_values": numeric,
        "groups": thresholds_state(optimizer),
        "seed": int(cfg.seed),
        "unknown_group": m.unknown_group.value,
        "constraint": m.constraint.value,
        "objective": m.objective,
        "grid_size": m.grid_size,
        "draw": "blake2b(row's float32 model inputs, key=seed) / 2**64",
    }
    after, _ = postprocess(state, score, x, cfg.evaluate.threshold)
    return {
        "format_version": FORMAT_VERSION,
        "method": "threshold_optimizer",
        "facet": column,
        "postprocess": state,
        "validation": {
            "before": decision_summary(y, plain.predicted, groups),
            "after": decision_summary(y, after, groups),
        },
    }


def decision_summary(y: np.ndarray, decided: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """Accuracy, each group's selection rate (share of class 1) and fairlearn's
    demographic parity difference (max - min of those rates)."""
    from fairlearn.metrics import demographic_parity_difference

    names = sorted({str(g) for g in groups})
    rates = {g: float(np.mean(decided[groups == g] == 1)) for g in names}
    return {
        "accuracy": float(np.mean(decided == y)),
        "selection_rate": rates,
        "demographic_parity_difference": float(
            demographic_parity_difference(y, decided, sensitive_features=groups)
        ),
    }
