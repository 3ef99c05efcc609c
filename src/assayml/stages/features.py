"""``assay features``: fit the feature pipeline on train only and transform every split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assayml.config.schema import AssayConfig, ColumnSpec, ColumnType
from assayml.data.split import SPLITS
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
    started = utc_now()
    prepared = Path(cfg.paths.prepared_dir)
    profile = read_json(prepared / PROFILE_FILE, "prepare")
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
