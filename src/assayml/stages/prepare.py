"""``assay prepare``: load the configured data version, validate it, split it with the seed."""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from assayml.config.schema import AssayConfig, ColumnSpec
from assayml.data.profile import profile_splits
from assayml.data.schema import declared_columns, validate_frame
from assayml.data.sources import load_raw
from assayml.data.split import split_frame
from assayml.data.task import resolve_task
from assayml.records import StageRecord
from assayml.stages.common import finish_record, utc_now
from assayml.utils.io import atomic_outputs

PROFILE_FILE = "profile.json"


def run_prepare(cfg: AssayConfig) -> StageRecord:
    """Write ``{train,val,test}.parquet``, ``profile.json`` and the record to
    ``paths.prepared_dir``; nothing is written unless the data passes its schema."""
    started = utc_now()
    raw = load_raw(cfg.data, cfg.paths.root_dir)
    where = f"{cfg.data.path}@{cfg.data.rev}" if cfg.data.rev else (cfg.data.path or cfg.data.name)
    columns = declared_columns(cfg.data, raw.frame)
    frame = validate_frame(raw.frame, cfg.data, where)
    task = resolve_task(cfg.data, frame[cfg.data.target])
    splits = split_frame(frame, cfg.data.target, task, cfg.data.split, cfg.seed)
    data = {"md5": raw.md5, **raw.origin}
    out_dir = Path(cfg.paths.prepared_dir)
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        for name, part in splits.items():
            out.write_bytes(out_dir / f"{name}.parquet", parquet_bytes(part))
        profile = profile_splits(splits, cfg.data.target, task.name)
        profile.update(
            data=data,
            schema=schema_dict(columns),
            sensitive=list(cfg.data.sensitive),
            reference_groups=dict(cfg.data.reference_groups),
            image_shape=cfg.data.image_shape,
            hashes=out.digests(),
        )
        out.write_json(out_dir / PROFILE_FILE, profile)
        details = {"task": task.name, "rows": profile["rows"], "raw_rows": len(raw.frame)}
        return finish_record(out, "prepare", cfg, data, [], started, details)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def schema_dict(columns: dict[str, ColumnSpec]) -> dict[str, dict[str, Any]]:
    """The schema the data was validated against, as JSON (enums by name)."""
    return {name: {**asdict(spec), "dtype": spec.dtype.name} for name, spec in columns.items()}
