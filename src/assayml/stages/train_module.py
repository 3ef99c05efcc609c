"""``assay train`` for a user's LightningModule (``model._target_``), on a user's
LightningDataModule or on our transformed tables.

The models folder has the layout our own models have (``model.safetensors``, ``model.json``,
``model_card.json``, ``config.json``, ``manifest.json``; for tables also the feature
transform and input schema, so predict and serve work): ``model.json`` has
``kind: lightning_module``, the module's ``_target_`` and its constructor arguments, and
loading rebuilds it only when the project trusts every ``_target_`` in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assayml.config.load import canonical_json, uses_datamodule
from assayml.config.schema import AssayConfig, CalibrationMethod, UncertaintyMethod
from assayml.config.user_modules import MODULE_RESERVED
from assayml.errors import ConfigError
from assayml.models.artifact import ModelSpec, save_model, seal_model
from assayml.models.members import SEQUENTIAL
from assayml.records import StageRecord
from assayml.stages.common import finish_record, upstream_data, utc_now
from assayml.utils.io import atomic_outputs

KIND = "lightning_module"


def run_train_module(cfg: AssayConfig) -> StageRecord:
    """Fit ``cfg.model`` and write the models folder and the record."""
    from assayml.stages.train import (
        CONFIG_COPY,
        MODEL_CARD_FILE,
        SCHEMA_COPY,
        TRANSFORM_COPY,
        input_schema,
    )
    from assayml.train.distributed import external_rank
    from assayml.train.user_fit import build_user_module, fit_user_module, module_node

    started = utc_now()
    check_supported(cfg)
    mc_samples = _mc_samples(cfg, build_user_module(cfg))  # before any training
    data, shape, transform, inputs = _training_data(cfg)
    if external_rank() > 0:
        # torchrun / multi-task srun: the other ranks fit beside rank 0 and write nothing.
        fit_user_module(cfg, data, ckpt_path=_resume_from(cfg))
        raise SystemExit(0)
    task, classes = data_task(cfg, transform)
    members = 0
    if cfg.uncertainty.method is UncertaintyMethod.ensemble:
        from assayml.train.members_fit import fit_in_sequence

        # A LightningModule has no stacked form: member i trains alone with seed + i.
        members = cfg.uncertainty.members
        result = fit_in_sequence(cfg, task, lambda member: fit_user_module(member, data))
    else:
        result = fit_user_module(cfg, data, ckpt_path=_resume_from(cfg))
    kwargs = {k: v for k, v in module_node(cfg).items() if k not in MODULE_RESERVED}
    spec = ModelSpec(
        target=cfg.model._target_,
        kwargs=kwargs,
        in_features=len(transform.feature_names) if transform else 0,
        out_features=len(classes) if classes else 1,
        task=task,
        feature_names=list(transform.feature_names) if transform else [],
        extras={
            "head": "logits" if classes else "point",
            "mc_samples": mc_samples,
            "members": members,
            "ensemble": SEQUENTIAL if members else None,
            "seed": cfg.seed,
            "classes": classes,
            "input_shape": shape,
        },
        kind=KIND,
    )
    models = Path(cfg.paths.models_dir)
    identity = upstream_data(cfg, "features")
    with atomic_outputs() as out:
        out.own_dir(models)
        save_model(out, models, spec, result.state_dict)
        if transform is not None:
            out.write_json(models / TRANSFORM_COPY, transform.to_dict())
            out.write_json(models / SCHEMA_COPY, input_schema(cfg, transform))
        out.write_json(models / CONFIG_COPY, json.loads(canonical_json(cfg)))
        details = {
            "epochs": result.epochs,
            "steps": result.steps,
            "best_epoch": result.best_epoch,
            "kept": result.kept,
            "stopped_early": result.stopped_early,
            "stopped_by": result.stopped_by,  # a debugger rule with action stop
            "monitor": cfg.train.monitor,
            "best_score": result.best_score,
            "final_metrics": result.metrics,
            "processes": result.processes,
        }
        card = module_card(cfg, spec, classes, identity, details)
        card["debugger"] = result.debugger  # per rule: fired, step, figure (null: off)
        out.write_json(models / MODEL_CARD_FILE, card)
        seal_model(out, models)
        return finish_record(out, "train", cfg, identity, inputs, started, details)


def _resume_from(cfg: AssayConfig) -> str | None:
    """``ckpt_path``: a Lightning checkpoint of this module to continue training from."""
    if not cfg.ckpt_path:
        return None
    from assayml.train.fit import checkpoint_file

    return str(checkpoint_file(cfg))


def check_supported(cfg: AssayConfig) -> None:
    """Exit 2, saying why, for what a user's module cannot do (yet)."""
    if cfg.calibration.method is CalibrationMethod.temperature:
        raise ConfigError(
            "calibration=temperature rescales the logits of assayml's own module; a user "
            "LightningModule calibrates itself (use calibration=none)"
        )
    if cfg.train.resume:
        raise ConfigError(
            "train.resume continues assayml's own module from checkpoints/last.ckpt; resume a "
            "user LightningModule with ckpt_path=checkpoints/last.ckpt"
        )
    ensemble = cfg.uncertainty.method is UncertaintyMethod.ensemble
    if cfg.ckpt_path and ensemble:
        raise ConfigError("ckpt_path names one checkpoint; uncertainty=ensemble trains several")
    t = cfg.trainer
    launched = external_rank_set()
    several = "ddp" in str(t.strategy) or (isinstance(t.devices, int) and t.devices > 1)
    if several and not launched:
        raise ConfigError(
            "a user LightningModule trains on several processes when a launcher starts them: "
            "run `torchrun --nproc-per-node N -m assayml.cli.main train --params params.yaml` "
            "(Lightning's own launcher would rerun the whole assay command in every rank)"
        )


def external_rank_set() -> bool:
    """Whether a launcher (torchrun, srun) started this process as one of several ranks."""
    import os

    return "LOCAL_RANK" in os.environ or int(os.environ.get("SLURM_NTASKS", "1")) > 1


def _training_data(cfg: AssayConfig):
    """(data module, input shape, feature transform or None, record inputs)."""
    if uses_datamodule(cfg):
        from assayml.stages.datamodule import PROFILE_FILE, build_datamodule, module_profile

        profile = module_profile(cfg)
        inputs = [Path(cfg.paths.prepared_dir) / PROFILE_FILE]
        return build_datamodule(cfg, "fit"), profile["input_shape"], None, inputs
    from assayml.features.transform import FeatureTransform
    from assayml.stages.features import TRANSFORM_FILE
    from assayml.train.datamodule import FeatureDataModule

    features = Path(cfg.paths.features_dir)
    transform = FeatureTransform.load(features / TRANSFORM_FILE)
    data = FeatureDataModule.from_dir(features, batch_size=cfg.train.batch_size)
    data.batch_size, data.fused_steps, data.seed = cfg.train.batch_size, 1, cfg.seed
    inputs = [
        features / TRANSFORM_FILE,
        features / "train.safetensors",
        features / "val.safetensors",
    ]
    return data, [len(transform.feature_names)], transform, inputs


def data_task(cfg: AssayConfig, transform) -> tuple[str, list[Any]]:
    """The task and the classes (indices 0..k-1, as the module predicts them)."""
    if transform is not None:
        classes = list(range(len(transform.target.classes))) if transform.target.classes else []
        return transform.target.task, classes
    from assayml.stages.datamodule import module_profile

    profile = module_profile(cfg)
    return profile["task"], profile["classes"]


def _mc_samples(cfg: AssayConfig, module) -> int:
    """``uncertainty.samples`` under mc_dropout, once the module is known to have a dropout
    layer that samples (exit 2, before any training, if it has none)."""
    if cfg.uncertainty.method is not UncertaintyMethod.mc_dropout:
        return 0
    import torch

    layers = [m for m in module.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if not any(m.p > 0 for m in layers):
        raise ConfigError(
            f"uncertainty=mc_dropout samples the dropout layers of {cfg.model._target_}, and "
            "it has none with p > 0 (dropout through torch.nn.functional is not sampled)"
        )
    return cfg.uncertainty.samples


def module_card(cfg: AssayConfig, spec: ModelSpec, classes, data: dict, details: dict) -> dict:
    """The model card of a user's module: what it is, what made it, how it did."""
    from assayml.stages.train import card_provenance

    return {
        "name": cfg.model.name,
        "kind": KIND,
        "task": spec.task,
        "classes": classes,
        "architecture": {"module": spec.target, **spec.kwargs},
        "inputs": {"shape": spec.extras["input_shape"], "features": spec.feature_names},
        "training": {"seed": cfg.seed, **details},
        "metrics": {"val": details["final_metrics"]},
        **card_provenance(cfg, spec, data),
    }
