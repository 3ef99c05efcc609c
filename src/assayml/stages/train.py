"""``assay train``: fit the configured network with Lightning; save weights and model card."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from assayml.config.load import canonical_json, config_hash
from assayml.config.schema import (
    AssayConfig,
    CalibrationMethod,
    MitigationMethod,
    UncertaintyMethod,
)
from assayml.errors import ConfigError
from assayml.features.transform import FeatureTransform
from assayml.mitigation import STATE_FILE
from assayml.mitigation.fit import check_mitigation, fit_postprocess, reweigh
from assayml.mitigation.record import mitigation_card, mitigation_details
from assayml.models.artifact import ModelSpec, save_model, seal_model
from assayml.models.build import architecture_kwargs
from assayml.models.heads import output_width
from assayml.records import StageRecord
from assayml.stages.common import finish_record, upstream_data, utc_now
from assayml.stages.features import TRANSFORM_FILE
from assayml.train.optim import optimization_summary
from assayml.utils.io import atomic_outputs

MODEL_CARD_FILE = "model_card.json"
TRANSFORM_COPY = "feature_transform.json"  # models/ is self-contained for predict and serve
CONFIG_COPY = "config.json"  # the resolved config that trained the model
SCHEMA_COPY = "schema.json"  # the input schema: predict and serve validate rows against it


def run_train(cfg: AssayConfig) -> StageRecord:
    """Write ``model.safetensors``, ``model.json``, ``feature_transform.json``,
    ``model_card.json`` and the record to ``paths.models_dir``."""
    from assayml.config.load import uses_datamodule, uses_lightning_module

    if cfg.mitigation.method is not MitigationMethod.none and (
        uses_lightning_module(cfg) or uses_datamodule(cfg)
    ):
        raise ConfigError(
            f"mitigation={cfg.mitigation.method.value} works on assayml's own module and "
            "tables: reweighing weights its loss, post-processing reads the group from its "
            "inputs; a user's LightningModule or DataModule trains with mitigation=none"
        )
    if uses_lightning_module(cfg):
        from assayml.stages.train_module import run_train_module

        return run_train_module(cfg)
    if uses_datamodule(cfg):
        raise ConfigError(
            f"model {cfg.model.name} is a network for assayml's tabular features; data from a "
            f"LightningDataModule ({cfg.data._target_}) needs model._target_ naming a "
            "LightningModule (see conf/model/digits_cnn.yaml)"
        )
    from assayml.models.members import SEQUENTIAL
    from assayml.train.distributed import external_rank
    from assayml.train.fit import fit_network
    from assayml.train.members_fit import ensemble_stacks, fit_in_sequence

    started = utc_now()
    features = Path(cfg.paths.features_dir)
    inputs = training_inputs(cfg)
    transform, splits, task, head = inputs.transform, inputs.splits, inputs.task, inputs.head
    out_features = inputs.out_features
    mitigation = None
    if cfg.mitigation.method is MitigationMethod.reweighing:
        mitigation = reweigh(cfg, splits, sensitive_columns(cfg), transform.target.classes)
    if external_rank() > 0:
        # torchrun / multi-task srun start every rank with the whole command: the others
        # fit alongside rank 0 and leave; rank 0 alone writes the model and the records.
        fit_network(cfg, splits, out_features, task, worker=True)
        raise SystemExit(0)
    sequential = cfg.uncertainty.method is UncertaintyMethod.ensemble and not ensemble_stacks(
        cfg, splits.in_features, out_features
    )
    if sequential:
        # No stacked form for this network: its members train one after another.
        result = fit_in_sequence(
            cfg, task, lambda member: fit_network(member, splits, out_features, task)
        )
    else:
        result = fit_network(cfg, splits, out_features, task)
    sampling = sampling_for(cfg, head)
    if cfg.calibration.method is CalibrationMethod.temperature:
        sampling = replace(sampling, temperature=calibrate(result.net, splits.val, sampling))
    if cfg.mitigation.method is MitigationMethod.threshold_optimizer:
        mitigation = fit_postprocess(
            cfg, result.net, transform, splits.val, sampling, sensitive_columns(cfg)
        )
    spec = ModelSpec(
        target=cfg.model._target_,
        kwargs=architecture_kwargs(cfg.model),
        in_features=splits.in_features,
        out_features=out_features,
        task=task,
        feature_names=transform.feature_names,
        extras={k: v for k, v in asdict(sampling).items() if k != "postprocess"}
        | ({"ensemble": SEQUENTIAL} if sequential else {}),
    )
    models = Path(cfg.paths.models_dir)
    data = upstream_data(cfg, "features")
    with atomic_outputs() as out:
        out.own_dir(models)
        save_model(out, models, spec, result.state_dict)
        out.write_json(models / TRANSFORM_COPY, transform.to_dict())
        # The resolved config beside the weights: what `assay reproduce` reruns.
        out.write_json(models / CONFIG_COPY, json.loads(canonical_json(cfg)))
        out.write_json(models / SCHEMA_COPY, input_schema(cfg, transform))
        details = training_details(cfg, result, len(splits.train.y), len(splits.val.y))
        card = model_card(cfg, spec, transform, data, details)
        card["debugger"] = result.debugger  # per rule: fired, step, figure (null: off)
        card["mitigation"] = mitigation_card(mitigation)
        if mitigation is not None:  # the fitted state: sealed in the manifest with the rest
            out.write_json(models / STATE_FILE, mitigation)
            details["mitigation"] = mitigation_details(mitigation)
        out.write_json(models / MODEL_CARD_FILE, card)
        seal_model(out, models)  # manifest.json: every file above, by SHA-256
        inputs = [
            features / TRANSFORM_FILE,
            features / "train.safetensors",
            features / "val.safetensors",
        ]
        return finish_record(out, "train", cfg, data, inputs, started, details)


@dataclass
class TrainingInputs:
    transform: FeatureTransform
    splits: Any  # FeatureDataModule
    task: str
    head: str
    out_features: int


def training_inputs(cfg: AssayConfig) -> TrainingInputs:
    """What a fit needs from ``assay features``' outputs (rank 0 and DDP workers alike)."""
    from assayml.train.datamodule import FeatureDataModule
    from assayml.train.fit import model_head

    features = Path(cfg.paths.features_dir)
    transform = FeatureTransform.load(features / TRANSFORM_FILE)
    splits = FeatureDataModule.from_dir(features, batch_size=cfg.train.batch_size)
    task = transform.target.task
    head = model_head(cfg, task)
    check_uncertainty(cfg, task)
    check_mitigation(cfg, task)
    out_features = output_width(task, len(transform.target.classes), head)
    return TrainingInputs(transform, splits, task, head, out_features)


def input_schema(cfg: AssayConfig, transform) -> dict:
    """The prepared data's schema (as validated), with the target and sensitive columns."""
    from assayml.stages.common import read_json
    from assayml.stages.prepare import PROFILE_FILE

    profile = read_json(Path(cfg.paths.prepared_dir) / PROFILE_FILE, "prepare")
    return {
        "columns": profile["schema"],
        "target": transform.target.name,
        "inputs": transform.input_columns,
        "sensitive": profile.get("sensitive", []),
        "reference_groups": profile.get("reference_groups", {}),
        "image_shape": profile.get("image_shape"),
    }


def sensitive_columns(cfg: AssayConfig) -> list[str]:
    """The prepared data's sensitive columns (profile.json)."""
    from assayml.stages.common import read_json
    from assayml.stages.prepare import PROFILE_FILE

    return list(
        read_json(Path(cfg.paths.prepared_dir) / PROFILE_FILE, "prepare").get("sensitive") or []
    )


def sampling_for(cfg: AssayConfig, head: str):
    """How the saved model samples at predict time (stored in model.json)."""
    from assayml.models.inference import Sampling

    method = cfg.uncertainty.method
    return Sampling(
        members=cfg.uncertainty.members if method is UncertaintyMethod.ensemble else 0,
        mc_samples=cfg.uncertainty.samples if method is UncertaintyMethod.mc_dropout else 0,
        seed=cfg.seed,
        head=head,
        interval=cfg.uncertainty.interval,
    )


def check_uncertainty(cfg: AssayConfig, task: str) -> None:
    if cfg.calibration.method is CalibrationMethod.temperature and task == "regression":
        raise ConfigError(
            "calibration=temperature scales classification logits; "
            "use calibration=none for regression"
        )
    dropout = getattr(cfg.model, "dropout", 0.0)
    if cfg.uncertainty.method is UncertaintyMethod.mc_dropout and not dropout:
        raise ConfigError(
            f"uncertainty=mc_dropout needs model.dropout > 0 (model {cfg.model.name} has {dropout})"
        )


def calibrate(net, val, sampling) -> float:
    """The temperature minimising validation NLL of the model's (averaged) prediction."""
    from assayml.models.inference import sample_outputs
    from assayml.uncertainty.calibration import fit_temperature

    logits = sample_outputs(net, val.x.numpy(), sampling).double().numpy()
    return fit_temperature(logits, val.y.numpy())


def training_details(cfg: AssayConfig, result, train_rows: int, val_rows: int) -> dict:
    return {
        "epochs": result.epochs,
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "stopped_by": result.stopped_by,  # a debugger rule with action stop
        "resumed_from": result.resumed_from,
        "processes": result.processes,
        "monitor": cfg.train.monitor,
        "best_score": result.best_score,
        "final_metrics": result.metrics,
        "rows": {"train": train_rows, "val": val_rows},
    }


def model_card(cfg, spec: ModelSpec, transform, data: dict, details: dict) -> dict:
    """What the model is, what made it, and how it did: the card a reviewer reads first."""
    return {
        "name": cfg.model.name,
        "task": spec.task,
        "target": transform.target.name,
        "classes": transform.target.classes,
        "architecture": {"builder": spec.target, **spec.kwargs},
        "inputs": {"columns": transform.input_columns, "features": spec.feature_names},
        "training": {
            "seed": cfg.seed,
            **optimization_summary(cfg.model),
            "batch_size": cfg.train.batch_size,
            **details,
        },
        "metrics": {"val": details["final_metrics"]},
        **card_provenance(cfg, spec, data),
    }


def card_provenance(cfg, spec: ModelSpec, data: dict) -> dict:
    """What made a model, as every model card (ours or a user's module) records it: facts
    that follow from the inputs only, since DVC hashes ``models/``. When and where it was
    trained, and the git commit checked out, are the train stage's volatile facts
    (records.py); the registry joins them to the card when the model is registered."""
    from assayml.stages.common import read_json
    from assayml.stages.prepare import PROFILE_FILE

    profile = read_json(Path(cfg.paths.prepared_dir) / PROFILE_FILE, "prepare")
    return {
        "data": data,
        "data_card": profile.get("card"),  # who owns the data, how it may be used
        "tags": list(cfg.tags),
        "config_hash": config_hash(cfg),
        "weights_sha256": spec.weights_sha256,
    }
