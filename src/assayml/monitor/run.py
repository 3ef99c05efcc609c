"""``assay monitor``: the current rows against the baseline. Data quality and feature drift
on every row; prediction, attribution and (with labels) model-quality and bias drift on the
rows that pass the model's schema. Writes ``violations.json`` (SageMaker Model Monitor's
``constraint_violations.json`` layout), ``monitor.json`` (every figure) and ``report.html``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.errors import ArtifactError
from assayml.monitor import checks, model_checks
from assayml.monitor.drift import NumericReference
from assayml.monitor.inputs import Baseline, Current
from assayml.monitor.large import ParquetColumns, scan_rows
from assayml.records import utc_now
from assayml.serve.deployed import Deployed
from assayml.utils.io import atomic_outputs, finite


def monitor(
    current: Current,
    baseline: Baseline,
    deployed: Deployed,
    labels: pd.Series | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Every check; the report as ``monitor.json`` holds it. ``labels`` (aligned with the
    rows) default to the rows' own target column when they have one."""
    from assayml.progress import Steps

    with Steps("monitor", 4) as steps:
        return _monitor(current, baseline, deployed, labels, threshold, steps)


def _monitor(current, baseline, deployed, labels, threshold, steps) -> dict[str, Any]:
    cfg, stats = baseline.settings, baseline.statistics
    frame = current.frame
    target = deployed.transform.target.name
    if labels is None and target in frame.columns:
        labels = frame[target].reset_index(drop=True)
    ignore = set(deployed.schema.get("sensitive") or []) | {deployed.schema["target"]}
    steps.next(f"data quality ({len(frame)} rows)")
    violations = checks.data_quality(frame, baseline.constraints, ignore)
    steps.next(f"feature drift ({len(stats['features'])} features)")
    drift = checks.feature_drift(frame, stats, baseline.rules, baseline.references, cfg)
    violations += checks.drift_violations(drift)
    scanned = None
    if isinstance(frame, ParquetColumns):
        # Whole rows only a batch at a time; `valid` holds the columns bias drift reads.
        scanned = scan_rows(frame, deployed, threshold) if _has_inputs(frame, deployed) else None
        keep = scanned.keep if scanned else np.zeros(0, dtype=np.int64)
        facets = [
            c
            for c in (baseline.constraints.get("bias") or {}).get("facets", {})
            if c in frame.columns
        ]
        valid = frame.read(facets).iloc[keep].reset_index(drop=True) if facets else None
        valid = valid if valid is not None else pd.DataFrame(index=range(len(keep)))
        rejected = scanned.rejected if scanned else len(frame)
        inputs = deployed.schema["inputs"]

        def take(rows: np.ndarray) -> pd.DataFrame:
            return frame.take(keep[rows], inputs)
    else:
        valid, rejects = usable_rows(frame, deployed)
        keep, rejected = valid.index.to_numpy(), len(rejects)

        def take(rows: np.ndarray) -> pd.DataFrame:
            return valid.iloc[rows]

    report: dict[str, Any] = {
        "time": utc_now(),
        "source": current.source,
        "baseline": str(baseline.directory),
        "model": deployed.lineage_id,
        "rows": len(frame),
        "valid_rows": len(valid),
        "settings": asdict(cfg),
        "drift": drift,
        "prediction_drift": None,
        "model_quality": None,
        "attribution_drift": None,
        "bias_drift": None,
    }
    steps.next("predictions, model quality and bias")
    if len(valid):
        predicted, probabilities = (
            (scanned.predicted, scanned.probabilities)
            if scanned is not None
            else served_or_predicted(current, deployed, valid, keep, threshold)
        )
        reference = baseline.arrays.get("prediction")
        report["prediction_drift"], found = model_checks.prediction_drift(
            stats,
            predicted,
            NumericReference(reference) if reference is not None else None,
            cfg,
            deployed.transform.target.classes,
        )
        violations += found
        violations += _labelled_checks(
            report, baseline, deployed, predicted, probabilities, labels, keep
        )
        report["bias_drift"], found = _bias(baseline, deployed, valid, predicted)
        violations += found
        steps.next("attributions")
        if stats.get("attributions"):
            report["attribution_drift"], found = _attributions(baseline, deployed, valid, take)
            violations += found
    report["rejected_rows"] = rejected
    report["violations"] = [v.to_dict() for v in violations]
    report["recommendation"] = model_checks.recommendation(violations)
    return report


def usable_rows(frame: pd.DataFrame, deployed: Deployed) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows the model can take (none when an input column is missing: data quality has
    reported it) and the rejected rest."""
    if any(c not in frame.columns for c in deployed.schema["inputs"]):
        return frame.iloc[:0], frame
    return deployed.validate(frame.reset_index(drop=True))


def served_or_predicted(
    current: Current, deployed: Deployed, valid: pd.DataFrame, keep: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """The captured predictions when the rows came with them (what users were served), else
    the model's: class indices, or regression values; and the class probabilities (served
    ones when every class's was captured, else the model's; None for regression)."""
    transform = deployed.transform
    if current.served is None:
        pred = deployed.predict(valid, threshold)
        regression = transform.target.task == "regression"
        return pred.predicted, None if regression else pred.probabilities
    served = current.served.iloc[keep].reset_index(drop=True)
    if transform.target.task == "regression":
        return served.to_numpy(dtype=np.float64), None
    columns = [f"probability_{c}" for c in transform.target.classes]
    outputs = current.outputs
    probabilities = None
    if outputs is not None and all(c in outputs.columns for c in columns):
        chosen = outputs[columns].iloc[keep]
        probabilities = None if chosen.isna().any(axis=None) else chosen.to_numpy(np.float64)
    return transform.encode_target(served), probabilities


def _labelled_checks(report, baseline, deployed, predicted, probabilities, labels, keep):
    from assayml.monitor.ground_truth import model_quality

    if labels is None:
        return []
    y_all = labels.iloc[keep].reset_index(drop=True)
    has = y_all.notna().to_numpy()
    report["labelled_rows"] = int(has.sum())
    if not has.any():
        return []
    transform = deployed.transform
    task = baseline.statistics["prediction"]["task"]
    regression = transform.target.task == "regression"
    y = y_all[has].to_numpy(dtype=np.float64) if regression else transform.encode_target(y_all[has])
    report["model_quality"], found = model_quality(
        baseline.statistics,
        task,
        np.asarray(y),
        np.asarray(predicted)[has],
        probabilities[has] if probabilities is not None else None,
        baseline.settings,
    )
    return found


def _bias(baseline: Baseline, deployed: Deployed, valid: pd.DataFrame, predicted):
    """Bias drift of the current predictions against the baseline's, for the facets the
    rows carry (labels are not needed: DPPL compares predictions)."""
    bias = baseline.constraints.get("bias")
    if not bias or deployed.transform.target.task == "regression":
        return None, []
    if not bias.get("baseline"):
        note = "the baseline predates bias drift (no per-group counts): rerun `assay baseline`"
        return {"note": note}, []
    from assayml.monitor.bias_drift import bias_drift
    from assayml.utils import groups as typed

    index = typed.index_of(deployed.transform.target.classes, bias["favourable_label"])
    if index is None:
        raise ArtifactError(
            f"{baseline.directory}/constraints.json: bias.favourable_label "
            f"{bias['favourable_label']!r} is not a class of the model "
            f"({deployed.transform.target.classes}): rerun `assay baseline`"
        )
    favourable = (np.asarray(predicted) == index).astype(int)
    facets = {}
    for column, stored in bias["baseline"].items():
        if column not in valid.columns:
            continue
        values = valid[column].reset_index(drop=True)
        # explain.bias.missing=drop: a row without a value takes no part in this facet
        rows = values.notna().to_numpy() if bias.get("missing") == "drop" else slice(None)
        names = typed.group_names(values, stored.get("missing_name"))
        facets[column] = (names[rows], favourable[rows])
    if not facets:
        return None, []
    return bias_drift(bias, facets, baseline.settings)


def _has_inputs(frame, deployed: Deployed) -> bool:
    return all(c in frame.columns for c in deployed.schema["inputs"])


def _attributions(baseline: Baseline, deployed: Deployed, valid: pd.DataFrame, take):
    """Mean |SHAP| ranking of up to ``attribution_rows`` current rows, computed as the
    explain stage computed the baseline's (same background, samples, target and seed)."""
    import torch

    from assayml.config.schema import ExplainConfig
    from assayml.explain.global_explain import shap_ranking
    from assayml.explain.kernel_shap import kernel_shap
    from assayml.explain.model import ExplainedNet
    from assayml.explain.selection import column_groups, targets

    settings = baseline.statistics["attributions"]
    rng = np.random.default_rng(settings["seed"])
    rows = np.sort(rng.permutation(len(valid))[: baseline.settings.attribution_rows])
    chosen = take(rows)
    pred = deployed.predict(chosen)
    columns, groups = column_groups(deployed.transform)
    target = targets(
        ExplainConfig(target=settings["target"]), pred, list(range(len(rows))), deployed.transform
    )
    values = kernel_shap(
        ExplainedNet(deployed.module, deployed.transform, deployed.sampling),
        torch.as_tensor(deployed.transform.transform(chosen), dtype=torch.float64),
        torch.as_tensor(baseline.arrays["shap_background"], dtype=torch.float64),
        target,
        settings["samples"],
        groups,
        settings["seed"],
    ).numpy()
    report, found = model_checks.attribution_drift(
        settings["ranking"], shap_ranking(values, columns), baseline.settings
    )
    report["rows"] = len(rows)
    return report, found


def write_outputs(report: dict[str, Any], baseline: Baseline, current: Current, out_dir) -> None:
    """``violations.json``, ``monitor.json`` and ``report.html``, replaced together. Files,
    not the folder: ``--watch`` keeps its executions in sub-folders of the same ``--out``."""
    from assayml.monitor.report_html import render

    out_dir = Path(out_dir)
    (out_dir / "alerts.json").unlink(missing_ok=True)  # a former run's; this run's follows
    with atomic_outputs() as out:
        out.write_json(out_dir / "violations.json", {"violations": report["violations"]})
        out.write_json(out_dir / "monitor.json", finite(report))
        out.write_text(out_dir / "report.html", render(report, baseline.statistics, current.frame))
