"""``assay evaluate`` on a user's LightningDataModule: the module's ``forward`` over the
DataModule's dataloader for ``evaluate.split`` (``test_dataloader()`` by default), scored
with the same torchmetrics code, uncertainty report and plots as our own models.

With ``uncertainty=mc_dropout`` the module's dropout layers sample ``uncertainty.samples``
passes per batch from the run's seed (the rest of the network in eval mode).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from assayml.config.schema import AssayConfig
from assayml.errors import DataError
from assayml.models.artifact import SPEC_FILE, WEIGHTS_FILE, load_model
from assayml.models.inference import Predictions, Sampling
from assayml.records import StageRecord
from assayml.stages.common import utc_now
from assayml.uncertainty.summaries import classification_summary, regression_summary

LOADERS = {"train": "train_dataloader", "val": "val_dataloader", "test": "test_dataloader"}


def run_evaluate_module(cfg: AssayConfig) -> StageRecord:
    """Write ``metrics/evaluate.json``, ``plots/evaluate/*`` and the record."""
    from assayml.stages.datamodule import build_datamodule, module_profile
    from assayml.stages.evaluate import write_evaluation

    started = utc_now()
    models = Path(cfg.paths.models_dir)
    module, spec = load_model(models)
    weights = models / WEIGHTS_FILE
    if cfg.ckpt_path:
        weights = checkpoint_weights(cfg, module, spec)
    sampling = Sampling.from_extras(spec.extras)
    classes = module_profile(cfg)["classes"]
    split = cfg.evaluate.split
    data = build_datamodule(cfg, "fit" if split != "test" else "test")
    outputs, y = split_outputs(module, getattr(data, LOADERS[split])(), sampling, cfg)
    pred = predictions(outputs, spec.task, cfg.evaluate.threshold, sampling)
    return write_evaluation(cfg, pred, y, classes, sampling, [weights, models / SPEC_FILE], started)


def checkpoint_weights(cfg: AssayConfig, module, spec) -> Path:
    """Load the weights of the Lightning checkpoint ``ckpt_path`` into ``module`` (the
    architecture is the trained model's): evaluate that checkpoint instead."""
    from assayml.errors import ArtifactError, ConfigError
    from assayml.train.fit import checkpoint_file, load_checkpoint

    if spec.extras.get("members"):
        raise ConfigError("ckpt_path names one checkpoint; this model is an ensemble")
    path = checkpoint_file(cfg)
    try:
        module.module.load_state_dict(load_checkpoint(str(path))["state_dict"], strict=True)
    except (KeyError, RuntimeError) as err:
        raise ArtifactError(f"{path}: does not hold this module's weights: {err}") from err
    return path


@torch.no_grad()
def split_outputs(module, loader, sampling: Sampling, cfg: AssayConfig):
    """Raw outputs ``[S, rows, out]`` over every batch of ``loader`` and the labels."""
    from assayml.stages.datamodule import batch_parts
    from assayml.uncertainty.mc_dropout import mc_dropout_samples

    module.eval()
    parts, labels = [], []
    for batch in loader:
        x, y = batch_parts(batch, f"{cfg.data._target_} dataloader")
        if sampling.mc_samples:
            # max_rows=1: one pass per sample (inputs of any shape; no repeat along rows)
            parts.append(mc_dropout_samples(module, x, sampling.mc_samples, sampling.seed, 1))
        else:
            out = module(x)  # an ensemble's is [members, rows, out] already
            parts.append(out if sampling.members else out.unsqueeze(0))
        labels.append(torch.as_tensor(y).reshape(len(y), -1).squeeze(-1))
    if not parts:
        raise DataError(f"{cfg.data._target_}: the {cfg.evaluate.split} dataloader is empty")
    return torch.cat(parts, dim=1).double(), torch.cat(labels).numpy()


def predictions(outputs: torch.Tensor, task: str, threshold: float, sampling: Sampling):
    """Our :class:`Predictions` from a module's raw outputs (logits, or values)."""
    if task == "regression":
        summary = regression_summary(outputs[..., 0].numpy(), None, sampling.interval)
        return Predictions("regression", summary.pop("mean"), None, outputs.numpy(), summary)
    summary = classification_summary(torch.softmax(outputs, dim=-1).numpy())
    probabilities = summary.pop("probabilities")
    if task == "binary":
        predicted = (probabilities[:, 1] >= threshold).astype(np.int64)
    else:
        predicted = probabilities.argmax(axis=1).astype(np.int64)
    return Predictions(task, predicted, probabilities, outputs.numpy(), summary)
