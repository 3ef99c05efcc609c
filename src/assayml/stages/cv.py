"""``assay cv`` (and ``assay run cv.folds=K``): stratified, seeded K-fold cross-validation.

Folds are drawn from train + val; the test split stays held out. Each fold fits its own
feature transform on its training part only, trains the configured model (early stopping on
the held-out fold, as the pipeline does on val) and is scored on the held-out fold.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import AssayConfig, LoggerKind
from assayml.errors import ConfigError
from assayml.evaluate.metrics import compute_metrics
from assayml.features.fit import fit_transform
from assayml.models.inference import predict
from assayml.records import StageRecord
from assayml.stages.common import finish_record, read_json, utc_now
from assayml.stages.features import read_splits, schema_from_profile
from assayml.stages.prepare import PROFILE_FILE
from assayml.utils.io import atomic_outputs

CV_FILE = "cv.json"


def run_cv(cfg: AssayConfig) -> StageRecord:
    """Write ``metrics/cv.json``: per-fold metrics, and their mean and standard deviation."""
    if cfg.cv.folds < 2:
        raise ConfigError("cv.folds: set 2 or more to cross-validate (e.g. cv.folds=5)")
    if cfg.data.streaming:
        raise ConfigError("cv.folds: K-fold refits on tables in memory; not with data.streaming")
    if cfg.mitigation.method.name != "none":
        # the folds would train unweighted and unmitigated: figures of another model
        raise ConfigError(
            f"cv.folds: cross-validation does not apply mitigation={cfg.mitigation.method.name}"
            "; run it with mitigation=none, or compare mitigated runs on the test split"
        )
    started = utc_now()
    prepared = Path(cfg.paths.prepared_dir)
    profile = read_json(prepared / PROFILE_FILE, "prepare")
    splits = read_splits(prepared)
    development = pd.concat([splits["train"], splits["val"]], ignore_index=True)
    folds = [
        fold_metrics(cfg, profile, development, i, train, held)
        for i, (train, held) in enumerate(fold_indices(cfg, development, profile))
    ]
    summary = summarise_folds(folds)
    with atomic_outputs() as out:
        out.write_json(Path(cfg.paths.metrics_dir) / CV_FILE, summary)
        details = {f"{k}_{stat}": v for stat in ("mean", "std") for k, v in summary[stat].items()}
        inputs = [prepared / f"{s}.parquet" for s in ("train", "val")]
        return finish_record(out, "cv", cfg, profile["data"], inputs, started, details)


def fold_indices(cfg: AssayConfig, frame: pd.DataFrame, profile: dict[str, Any]):
    from sklearn.model_selection import KFold, StratifiedKFold

    if profile["task"] == "regression":
        splitter = KFold(cfg.cv.folds, shuffle=True, random_state=cfg.seed)
        return splitter.split(frame)
    splitter = StratifiedKFold(cfg.cv.folds, shuffle=True, random_state=cfg.seed)
    return splitter.split(frame, frame[profile["target"]])


def fold_metrics(
    cfg: AssayConfig,
    profile: dict[str, Any],
    frame: pd.DataFrame,
    fold: int,
    train_idx: np.ndarray,
    held_idx: np.ndarray,
) -> dict[str, Any]:
    """Fit the transform and the model on the fold's training rows (early stopping on an
    inner validation part of them, as the pipeline uses val); score the held-out rows,
    which take no part in fitting or model selection."""
    from assayml.models.heads import output_width
    from assayml.stages.train import check_uncertainty, sampling_for
    from assayml.train.datamodule import FeatureDataModule, SplitTensors
    from assayml.train.fit import fit_network, model_head

    target, task = profile["target"], profile["task"]
    train, inner_val = inner_split(cfg, frame.iloc[train_idx], target, task)
    held = frame.iloc[held_idx]
    transform = fit_transform(
        train,
        schema_from_profile(profile),
        cfg.features,
        target,
        task,
        frame[target].unique().tolist(),
    )
    tensors = [_tensors(transform, part) for part in (train, inner_val, held)]
    data = FeatureDataModule(SplitTensors(*tensors[0]), SplitTensors(*tensors[1]), 1)
    check_uncertainty(cfg, task)
    out_features = output_width(task, len(transform.target.classes), model_head(cfg, task))
    result = fit_network(fold_config(cfg, fold), data, out_features, task)
    sampling = sampling_for(cfg, model_head(cfg, task))
    pred = predict(result.net, transform, tensors[2][0].numpy(), cfg.evaluate.threshold, sampling)
    y = held[target].to_numpy(dtype=float) if task == "regression" else tensors[2][1].numpy()
    metrics = compute_metrics(pred, y, cfg.evaluate.threshold)
    metrics.pop("confusion_matrix", None)
    return {"fold": fold, "best_epoch": result.best_epoch, **metrics}


def inner_split(cfg: AssayConfig, rows: pd.DataFrame, target: str, task: str):
    """(train, val) parts of a fold's training rows, in the configured val proportion."""
    from sklearn.model_selection import train_test_split

    share = cfg.data.split.val / (cfg.data.split.train + cfg.data.split.val)
    labels = rows[target] if task != "regression" and cfg.data.split.stratify else None
    return train_test_split(rows, test_size=share, random_state=cfg.seed, stratify=labels)


def fold_config(cfg: AssayConfig, fold: int) -> AssayConfig:
    """The run's config with the fold's own checkpoints, no resume, logger or progress."""
    paths = dataclasses.replace(
        cfg.paths, checkpoints_dir=f"{cfg.paths.checkpoints_dir}/cv/fold{fold}"
    )
    logger = dataclasses.replace(cfg.logger, name=LoggerKind.none)
    trainer = dataclasses.replace(cfg.trainer, enable_progress_bar=False)
    train = dataclasses.replace(cfg.train, resume=False)
    return dataclasses.replace(cfg, paths=paths, logger=logger, trainer=trainer, train=train)


def summarise_folds(folds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in folds[0].items() if isinstance(v, float) and k != "fold"]
    values = {k: np.array([f[k] for f in folds if f[k] is not None], dtype=float) for k in keys}
    return {
        "folds": len(folds),
        "per_fold": folds,
        "mean": {k: round(float(v.mean()), 6) for k, v in values.items() if v.size},
        "std": {k: round(float(v.std(ddof=1)), 6) for k, v in values.items() if v.size > 1},
    }


def _tensors(transform, frame: pd.DataFrame):
    import torch

    x = torch.from_numpy(transform.transform(frame))
    y = torch.from_numpy(transform.encode_target(frame[transform.target.name]))
    return x, y
