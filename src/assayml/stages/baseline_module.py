"""``assay baseline`` on a user's LightningDataModule: what can be baselined without a table.

The model's predictions on the validation split (class counts or value quantiles) and its
validation metrics are recorded as they are for our tables. Input drift needs an input
schema (named columns with types), which tensors from a DataModule do not have, so
``constraints.json`` says ``inputs.monitored: false`` with the reason, and ``assay monitor``
given this baseline exits 2 quoting it rather than passing data it cannot check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from assayml.config.schema import AssayConfig
from assayml.evaluate.metrics import compute_metrics
from assayml.models.artifact import SPEC_FILE, WEIGHTS_FILE, load_model
from assayml.models.inference import Sampling
from assayml.monitor import baseline as base
from assayml.records import StageRecord
from assayml.stages.common import finish_record, upstream_data, utc_now
from assayml.utils.io import atomic_outputs

NOT_MONITORED = (
    "inputs from a LightningDataModule are tensors without an input schema (named, typed "
    "columns), so input drift is not monitored; the baseline holds the model's prediction "
    "distribution and validation metrics"
)


def empty_npz() -> bytes:
    """A ``reference.npz`` with no arrays: no numeric input is referenced."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer)
    return buffer.getvalue()


def run_baseline_module(cfg: AssayConfig) -> StageRecord:
    """Write ``statistics.json``, ``constraints.json`` and ``reference.npz``."""
    from assayml.stages.datamodule import build_datamodule, module_profile
    from assayml.stages.evaluate_module import predictions, split_outputs

    started = utc_now()
    models = Path(cfg.paths.models_dir)
    module, spec = load_model(models)
    profile = module_profile(cfg)
    data = build_datamodule(cfg, "fit")
    outputs, y = split_outputs(module, data.val_dataloader(), Sampling(), cfg)
    pred = predictions(outputs, spec.task, cfg.evaluate.threshold, Sampling())
    if spec.task == "regression":
        quantiles = {str(q): float(np.quantile(pred.predicted, q)) for q in base.QUANTILES}
        distribution: dict[str, Any] = {"quantiles": quantiles}
    else:
        values, counts = np.unique(pred.predicted, return_counts=True)
        distribution = {
            "counts": {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}
        }
    quality = compute_metrics(pred, y, cfg.evaluate.threshold)
    quality.pop("confusion_matrix", None)
    statistics = {
        "version": 0.0,
        "seed": cfg.seed,
        "dataset": {"item_count": profile["rows"]["train"], "source": cfg.data._target_},
        "features": [],
        "prediction": {"task": spec.task, "split": "val", "distribution": distribution},
        "model_quality": quality,
        "attributions": None,
    }
    constraints = {
        "version": 0.0,
        "features": [],
        "monitoring_config": base.monitoring_config(cfg.monitor),
        "bias": None,
        "inputs": {"monitored": False, "reason": NOT_MONITORED},
    }
    out_dir = Path(cfg.paths.monitoring_dir)
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_json(out_dir / "statistics.json", statistics)
        out.write_json(out_dir / "constraints.json", constraints)
        out.write_bytes(out_dir / "reference.npz", empty_npz())
        details = {"features": 0, "inputs_monitored": False}
        inputs = [models / WEIGHTS_FILE, models / SPEC_FILE]
        return finish_record(
            out, "baseline", cfg, upstream_data(cfg, "train"), inputs, started, details
        )
