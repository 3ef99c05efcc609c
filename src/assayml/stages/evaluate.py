"""``assay evaluate``: metrics and plots of the trained model on the held-out split."""

from __future__ import annotations

from pathlib import Path

from assayml.config.schema import AssayConfig
from assayml.evaluate.metrics import compute_metrics
from assayml.evaluate.plots import plot_data, plot_pngs
from assayml.evaluate.uncertainty_report import uncertainty_report
from assayml.features.transform import FeatureTransform
from assayml.mitigation import STATE_FILE
from assayml.mitigation.record import postprocess_summary
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
    from assayml.config.load import uses_datamodule

    if uses_datamodule(cfg):
        from assayml.stages.evaluate_module import run_evaluate_module

        return run_evaluate_module(cfg)
    started = utc_now()
    models = Path(cfg.paths.models_dir)
    module, spec = load_model(models)
    weights = models / WEIGHTS_FILE
    if cfg.ckpt_path is not None and spec.kind == "lightning_module":
        from assayml.stages.evaluate_module import checkpoint_weights

        weights = checkpoint_weights(cfg, module, spec)  # the user module's whole state
    elif cfg.ckpt_path is not None:  # another checkpoint's weights in the same architecture
        weights = load_checkpoint_weights(module, cfg)
    sampling = Sampling.from_extras(spec.extras)
    transform = FeatureTransform.load(models / TRANSFORM_COPY)
    split_path = Path(cfg.paths.prepared_dir) / f"{cfg.evaluate.split}.parquet"
    # Raw prepared rows go through the saved transform: the path predict and serve take
    # (a batch at a time for streamed data).
    x, target = transformed_split(split_path, transform, streamed(cfg))
    y_encoded = transform.encode_target(target)
    pred = predict(module, transform, x, cfg.evaluate.threshold, sampling)
    y = target.to_numpy(dtype=float) if pred.task == "regression" else y_encoded
    inputs = [weights, models / SPEC_FILE, models / TRANSFORM_COPY, split_path]
    inputs += [p for p in [models / STATE_FILE] if p.is_file()]  # bias post-processing
    return write_evaluation(cfg, pred, y, transform.target.classes, sampling, inputs, started)


def write_evaluation(
    cfg: AssayConfig, pred, y, classes: list, sampling: Sampling, inputs: list[Path], started: str
) -> StageRecord:
    """Score ``pred`` against ``y``, write ``metrics/evaluate.json``, the plots and the
    record: one report whether the model is ours or a user's module on a DataModule."""
    metrics = {"split": cfg.evaluate.split, **compute_metrics(pred, y, cfg.evaluate.threshold)}
    if sampling.postprocess is not None:
        metrics |= decision_metrics(pred, y)
        metrics["mitigation"] = postprocess_summary(sampling.postprocess, pred)
    metrics["uncertainty"], uncertainty_plots = uncertainty_report(pred, y, sampling)
    plots = plot_data(pred, y, classes)
    pngs = {}
    if cfg.evaluate.figures == "png":  # else the report draws them from the JSON
        pngs = plot_pngs(plots, classes, metrics.get("confusion_matrix"))
        pngs |= uncertainty_pngs(uncertainty_plots) if uncertainty_plots else {}
    plots |= uncertainty_plots or {}
    metrics_dir, plots_dir = Path(cfg.paths.metrics_dir), Path(cfg.paths.plots_dir) / PLOTS_SUBDIR
    with atomic_outputs() as out:
        out.own_dir(plots_dir)
        out.write_json(metrics_dir / METRICS_FILE, metrics)
        for name, content in plots.items():
            out.write_json(plots_dir / name, content)
        for name, blob in pngs.items():
            out.write_bytes(plots_dir / name, blob)
        details = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        details |= {"ckpt_path": cfg.ckpt_path} if cfg.ckpt_path is not None else {}
        details |= {
            f"uncertainty.{k}": v
            for k, v in metrics["uncertainty"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        identity = upstream_data(cfg, "train")
        return finish_record(out, "evaluate", cfg, identity, inputs, started, details)


def decision_metrics(pred, y) -> dict:
    """A post-processed model decides by its per-group thresholds, not one threshold on the
    probability: accuracy, F1, precision, recall and the confusion matrix are those of its
    decisions (scored as one-hot probabilities at 0.5); AUROC stays the probabilities'."""
    from dataclasses import replace

    import numpy as np

    decided = np.eye(pred.probabilities.shape[1])[pred.predicted]
    scored = compute_metrics(replace(pred, probabilities=decided), y, 0.5)
    return {k: v for k, v in scored.items() if k != "auroc"}


def load_checkpoint_weights(net, cfg: AssayConfig) -> Path:
    """Put ``ckpt_path``'s network weights (a Lightning checkpoint, read without unpickling
    code) into ``net``, the architecture of models/model.json; returns the file."""
    from assayml.errors import ArtifactError
    from assayml.train.fit import checkpoint_file, read_checkpoint

    path = checkpoint_file(cfg)
    state, _ = read_checkpoint(str(path))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ArtifactError(
            f"ckpt_path: {cfg.ckpt_path}: its weights do not fit the model in "
            f"{cfg.paths.models_dir}: {err}"
        ) from err
    return path
