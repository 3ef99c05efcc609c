"""``assay baseline``: the monitoring baseline from the training data, the validation
predictions and metrics, and the attribution ranking when ``assay explain`` has run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import AssayConfig
from assayml.evaluate.metrics import compute_metrics
from assayml.features.transform import FeatureTransform
from assayml.models.artifact import SPEC_FILE, WEIGHTS_FILE, load_model
from assayml.models.inference import Sampling, predict
from assayml.monitor import baseline as base
from assayml.records import StageRecord
from assayml.stages.common import (
    finish_record,
    read_json,
    read_parquet,
    streamed,
    train_rows_file,
    transformed_split,
    upstream_data,
    utc_now,
)
from assayml.stages.explain import check_prepared_facets
from assayml.stages.prepare import PROFILE_FILE
from assayml.stages.train import TRANSFORM_COPY
from assayml.utils import groups as typed
from assayml.utils.io import atomic_outputs

EXPLAIN_REPORT = "explain/explain.json"


def run_baseline(cfg: AssayConfig) -> StageRecord:
    """Write ``statistics.json``, ``constraints.json`` and ``reference.npz`` to
    ``paths.monitoring_dir``."""
    from assayml.config.load import uses_datamodule

    if uses_datamodule(cfg):
        from assayml.stages.baseline_module import run_baseline_module

        return run_baseline_module(cfg)
    started = utc_now()
    models, prepared = Path(cfg.paths.models_dir), Path(cfg.paths.prepared_dir)
    profile = read_json(prepared / PROFILE_FILE, "prepare")
    transform = FeatureTransform.load(models / TRANSFORM_COPY)
    train = read_parquet(train_rows_file(cfg), "prepare")
    x_val, y_val = transformed_split(prepared / "val.parquet", transform, streamed(cfg))
    columns = transform.input_columns
    features = [
        base.feature_statistics(
            c,
            train[c],
            base.inferred_type(train[c], profile["schema"].get(c, {}).get("dtype")),
            cfg.monitor.histogram_bins,
        )
        for c in columns
    ]
    prediction, quality, predicted = prediction_baseline(models, transform, x_val, y_val, cfg)
    check_prepared_facets(cfg, profile)
    explained = Path(cfg.paths.reports_dir) / EXPLAIN_REPORT
    attributions = attribution_baseline(explained, cfg) if explained.is_file() else None
    statistics = {
        "version": 0.0,
        "seed": cfg.seed,  # of the monitor's resamples
        "dataset": {
            "item_count": profile["rows"]["train"],
            "profiled_rows": len(train),  # a seeded sample under data.streaming
            "source": str(train_rows_file(cfg)),
        },
        "features": features,
        "prediction": prediction,
        "model_quality": quality,
        "attributions": attributions,
    }
    facets = profile.get("sensitive") or []
    val = pd.read_parquet(prepared / "val.parquet", columns=facets) if facets else None
    constraints = {
        "version": 0.0,
        "features": [
            base.feature_constraints(f, declared_spec(profile, transform, f["name"]), cfg.monitor)
            for f in features
        ],
        "monitoring_config": base.monitoring_config(cfg.monitor),
        "bias": bias_constraints(profile, transform, train, val, predicted, cfg),
    }
    numeric = [f["name"] for f in features if f["inferred_type"] != "String"]
    extra = {"shap_background": shap_background(transform, train, cfg)}
    if transform.target.task == "regression":
        extra["prediction"] = np.sort(predicted.astype(np.float32))
    reference = base.reference_bytes(train, numeric, cfg.monitor.reference_rows, cfg.seed, extra)
    out_dir = Path(cfg.paths.monitoring_dir)
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_json(out_dir / "statistics.json", statistics)
        out.write_json(out_dir / "constraints.json", constraints)
        out.write_bytes(out_dir / "reference.npz", reference)
        inputs = [
            models / WEIGHTS_FILE,
            models / SPEC_FILE,
            train_rows_file(cfg),
            prepared / "val.parquet",
        ]
        details = {
            "features": len(features),
            "rows": len(train),
            "attributions": attributions is not None,
        }
        return finish_record(
            out, "baseline", cfg, upstream_data(cfg, "train"), inputs, started, details
        )


def attribution_baseline(explained: Path, cfg: AssayConfig) -> dict[str, Any]:
    """The explain stage's mean |SHAP| ranking and how it was computed, so the monitor
    explains current rows the same way."""
    report = read_json(explained, "explain")
    seed = cfg.seed if cfg.explain.seed is None else cfg.explain.seed
    return {
        "ranking": report["global"]["mean_abs_shap"],
        "rows": report["global"]["rows"],
        "samples": cfg.explain.samples,
        "target": cfg.explain.target,
        "seed": seed,
    }


def shap_background(transform: FeatureTransform, train, cfg: AssayConfig) -> np.ndarray:
    """KernelSHAP's background rows (transformed), as the explain stage builds them."""
    from assayml.explain.selection import background

    seed = cfg.seed if cfg.explain.seed is None else cfg.explain.seed
    return background(cfg.explain, transform.transform(train), seed).rows.numpy()


def bias_constraints(profile, transform: FeatureTransform, train, val, predicted, cfg):
    """Sensitive columns with their reference groups (configured, matched as typed values,
    or the largest group in training, as the explain stage takes them), the favourable label,
    the allowed ranges of the bias metrics, and the validation predictions' favourable
    counts per group that bias drift is tested against; None for regression or without
    sensitive columns."""
    from assayml.explain.bias_report import favourable_label, reference_group
    from assayml.monitor.bias_drift import baseline_facet
    from assayml.utils import groups as typed

    sensitive = profile.get("sensitive") or []
    if transform.target.task == "regression" or not sensitive:
        return None
    configured = profile.get("reference_groups") or {}
    classes = transform.target.classes
    favourable = favourable_label(classes, cfg.explain.bias)
    predicted_favourable = (predicted == typed.index_of(classes, favourable)).astype(int)
    thresholds = {k: list(v) for k, v in cfg.explain.bias.thresholds.items()}
    missing = cfg.explain.bias.missing
    facets, baseline = {}, {}
    for column in sensitive:
        gone = typed.missing_name_of(train[column], val[column])
        facets[column] = reference_group(train[column], configured.get(column), column, gone)
        rows = val[column].notna().to_numpy() if missing == "drop" else slice(None)
        baseline[column] = baseline_facet(
            predicted_favourable[rows],
            typed.group_names(val[column], gone)[rows],
            facets[column],
            thresholds,
        ) | {"missing_name": gone}
    return {
        "facets": facets,
        "favourable_label": typed.value_name(favourable),
        "missing": missing,
        "thresholds": thresholds,
        "baseline": baseline,
    }


def declared_spec(profile: dict, transform: FeatureTransform, name: str) -> dict:
    """A column's declared schema; for streamed data a categorical column's domain is the
    categories of every training row (the transform's), not only the sample's."""
    spec = dict(profile["schema"].get(name, {}))
    if profile.get("streaming") and not spec.get("allowed"):
        found = [c.categories for c in transform.categorical if c.name == name]
        spec["allowed"] = found[0] if found else None
    return spec


def prediction_baseline(models: Path, transform: FeatureTransform, x, target, cfg: AssayConfig):
    """(prediction distribution, validation metrics, predicted values) on the val split."""
    module, spec = load_model(models)
    pred = predict(module, transform, x, cfg.evaluate.threshold, Sampling.from_extras(spec.extras))
    if transform.target.task == "regression":
        y = target.to_numpy(dtype=float)
        quantiles = {str(q): float(np.quantile(pred.predicted, q)) for q in base.QUANTILES}
        distribution: dict[str, Any] = {"quantiles": quantiles}
        predicted = pred.predicted
    else:
        y = transform.encode_target(target)
        labels = np.asarray(transform.target.classes, dtype=object)[pred.predicted]
        values, counts = np.unique(typed.group_names(labels).astype(str), return_counts=True)
        distribution = {"counts": dict(zip(values.tolist(), counts.tolist(), strict=True))}
        predicted = pred.predicted
    metrics = compute_metrics(pred, y, cfg.evaluate.threshold)
    metrics.pop("confusion_matrix", None)
    return {"task": pred.task, "split": "val", "distribution": distribution}, metrics, predicted
