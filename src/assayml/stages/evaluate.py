"""``assay evaluate``: metrics and plots of the trained model on the held-out split."""

from __future__ import annotations

from pathlib import Path

from assayml.config.schema import AssayConfig
from assayml.evaluate.metrics import compute_metrics
from assayml.evaluate.plots import plot_data, plot_pngs
from assayml.evaluate.uncertainty_report import uncertainty_report
from assayml.features.transform import FeatureTransform
from assayml.models.artifact import SPEC_FILE, WEIGHTS_FILE, load_model
from assayml.models.inference import Sampling, predict
from assayml.records import StageRecord
from assayml.stages.common import (
    finish_record,
    streamed,
    transformed_split,
    upstream_data,
    utc_now,
)
from assayml.stages.train import TRANSFORM_COPY
from assayml.uncertainty.plots import uncertainty_pngs
from assayml.utils.io import atomic_outputs

METRICS_FILE = "evaluate.json"
PLOTS_SUBDIR = "evaluate"


def run_evaluate(cfg: AssayConfig) -> StageRecord:
    """Write ``metrics/evaluate.json``, ``plots/evaluate/*`` and the record."""
    started = utc_now()
    models = Path(cfg.paths.models_dir)
    module, spec = load_model(models)
    sampling = Sampling.from_extras(spec.extras)
    transform = FeatureTransform.load(models / TRANSFORM_COPY)
    split_path = Path(cfg.paths.prepared_dir) / f"{cfg.evaluate.split}.parquet"
    # Raw prepared rows go through the saved transform: the path predict and serve take
    # (a batch at a time for streamed data).
    x, target = transformed_split(split_path, transform, streamed(cfg))
    y_encoded = transform.encode_target(target)
    pred = predict(module, transform, x, cfg.evaluate.threshold, sampling)
    y = target.to_numpy(dtype=float) if pred.task == "regression" else y_encoded
    metrics = {"split": cfg.evaluate.split, **compute_metrics(pred, y, cfg.evaluate.threshold)}
    metrics["uncertainty"], uncertainty_plots = uncertainty_report(pred, y, sampling)
    plots = plot_data(pred, y, transform.target.classes)
    pngs = plot_pngs(plots, transform.target.classes, metrics.get("confusion_matrix"))
    if uncertainty_plots:
        pngs |= uncertainty_pngs(uncertainty_plots)
        plots |= uncertainty_plots
    metrics_dir, plots_dir = Path(cfg.paths.metrics_dir), Path(cfg.paths.plots_dir) / PLOTS_SUBDIR
    with atomic_outputs() as out:
        out.own_dir(plots_dir)
        out.write_json(metrics_dir / METRICS_FILE, metrics)
        for name, content in plots.items():
            out.write_json(plots_dir / name, content)
        for name, blob in pngs.items():
            out.write_bytes(plots_dir / name, blob)
        details = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        details |= {
            f"uncertainty.{k}": v
            for k, v in metrics["uncertainty"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        inputs = [models / WEIGHTS_FILE, models / SPEC_FILE, models / TRANSFORM_COPY, split_path]
        return finish_record(
            out,
            "evaluate",
            cfg,
            upstream_data(cfg, "train"),
            inputs,
            started,
            details,
        )
