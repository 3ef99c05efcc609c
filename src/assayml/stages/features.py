"""``assay features``: fit the feature pipeline on train only and transform every split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assayml.config.schema import AssayConfig, ColumnSpec, ColumnType
from assayml.data.split import SPLITS
from assayml.errors import ArtifactError
from assayml.features.fit import fit_transform
from assayml.features.transform import FeatureTransform
from assayml.records import StageRecord
from assayml.stages.common import finish_record, read_json, read_parquet, utc_now
from assayml.stages.prepare import PROFILE_FILE
from assayml.utils.io import atomic_outputs

TRANSFORM_FILE = "transform.json"


def run_features(cfg: AssayConfig) -> StageRecord:
    """Write ``transform.json`` (the fitted state), ``{split}.safetensors`` (x, y) and the
    record to ``paths.features_dir``."""
    from assayml.config.load import uses_datamodule

    if uses_datamodule(cfg):
        from assayml.stages.datamodule import run_features_module

        return run_features_module(cfg)
    started = utc_now()
    prepared = Path(cfg.paths.prepared_dir)
    profile = read_json(prepared / PROFILE_FILE, "prepare")
    if profile.get("streaming"):
        return run_features_streaming(cfg, profile, started)
    splits = read_splits(prepared)
    columns = schema_from_profile(profile)
    labels = pd.concat([splits[s][profile["target"]] for s in SPLITS]).unique().tolist()
    transform = fit_transform(
        splits["train"], columns, cfg.features, profile["target"], profile["task"], labels
    )
    out_dir = Path(cfg.paths.features_dir)
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        out.write_json(out_dir / TRANSFORM_FILE, transform.to_dict())
        for name, frame in splits.items():
            out.write_bytes(out_dir / f"{name}.safetensors", split_tensors_bytes(transform, frame))
        details = {"features": len(transform.feature_names), "task": profile["task"]}
        inputs = [prepared / f"{s}.parquet" for s in SPLITS] + [prepared / PROFILE_FILE]
        return finish_record(out, "features", cfg, profile["data"], inputs, started, details)


def run_features_streaming(cfg: AssayConfig, profile: dict, started: str) -> StageRecord:
    """The same outputs from splits read in record batches (features/streaming.py)."""
    from assayml.data.streaming import BATCH_ROWS, SAMPLE_FILE, parquet_batches
    from assayml.features.streaming import fit_streaming, split_labels, write_split
    from assayml.progress import Steps, track

    prepared, out_dir = Path(cfg.paths.prepared_dir), Path(cfg.paths.features_dir)
    columns, target = schema_from_profile(profile), profile["target"]
    files = {s: prepared / f"{s}.parquet" for s in SPLITS}
    for path in [*files.values(), prepared / SAMPLE_FILE]:
        if not path.is_file():
            raise ArtifactError(f"{path}: not found (run `assay prepare` first)")

    def batches(split: str, columns=None):
        count = -(-profile["rows"][split] // BATCH_ROWS)
        return track(parquet_batches(files[split], columns), f"features: {split}", count)

    with Steps("features", 3) as steps:
        steps.next("labels")
        labels = []
        if profile["task"] != "regression":
            labels = sorted(
                {
                    label
                    for s in SPLITS
                    for label in split_labels(parquet_batches(files[s], [target]), target)
                },
                key=str,
            )
        steps.next("fit on train (streaming statistics)")
        sample = read_parquet(prepared / SAMPLE_FILE, "prepare")
        transform = fit_streaming(
            batches("train"), sample, columns, cfg.features, target, profile["task"], labels
        )
        steps.next("transform every split")
        with atomic_outputs() as out:
            out.own_dir(out_dir)
            out.write_json(out_dir / TRANSFORM_FILE, transform.to_dict())
            for name in SPLITS:
                path = out.path(out_dir / f"{name}.safetensors")
                write_split(path, transform, batches(name), profile["rows"][name])
            details = {
                "features": len(transform.feature_names),
                "task": profile["task"],
                "streaming": True,
            }
            inputs = [*files.values(), prepared / SAMPLE_FILE, prepared / PROFILE_FILE]
            return finish_record(out, "features", cfg, profile["data"], inputs, started, details)


def read_splits(prepared: Path) -> dict[str, pd.DataFrame]:
    return {name: read_parquet(prepared / f"{name}.parquet", "prepare") for name in SPLITS}


def schema_from_profile(profile: dict) -> dict[str, ColumnSpec]:
    return {
        name: ColumnSpec(**{**spec, "dtype": ColumnType[spec["dtype"]]})
        for name, spec in profile["schema"].items()
    }


def split_tensors_bytes(transform: FeatureTransform, frame: pd.DataFrame) -> bytes:
    """x [rows, features] float32 and y [rows] (int64 classes or float32 targets)."""
    import numpy as np
    from safetensors.numpy import save

    x = np.ascontiguousarray(transform.transform(frame))
    y = np.ascontiguousarray(transform.encode_target(frame[transform.target.name]))
    return save({"x": x, "y": y})
