"""``assay prepare``: load the configured data version, validate it, split it with the seed."""

from __future__ import annotations

import io
import itertools
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd

from assayml.config.schema import AssayConfig, ColumnSpec
from assayml.data.profile import profile_splits
from assayml.data.schema import declared_columns, validate_frame
from assayml.data.sources import load_raw
from assayml.data.split import SPLITS, split_frame
from assayml.data.task import resolve_task
from assayml.errors import DataError
from assayml.records import StageRecord
from assayml.stages.common import finish_record, utc_now
from assayml.utils.io import atomic_outputs

PROFILE_FILE = "profile.json"


def run_prepare(cfg: AssayConfig) -> StageRecord:
    """Write ``{train,val,test}.parquet``, ``profile.json`` and the record to
    ``paths.prepared_dir``; nothing is written unless the data passes its schema."""
    started = utc_now()
    if cfg.data.streaming:
        return run_prepare_streaming(cfg, started)
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
        write_profile(out, cfg, profile, data, columns)
        details = {"task": task.name, "rows": profile["rows"], "raw_rows": len(raw.frame)}
        return finish_record(out, "prepare", cfg, data, [], started, details)


def run_prepare_streaming(cfg: AssayConfig, started: str) -> StageRecord:
    """``data.streaming``: the same outputs (plus ``train_sample.parquet``) from a Parquet
    file read in record batches; see data/streaming.py."""
    from assayml.data import streaming as stream
    from assayml.progress import track

    where = f"{cfg.data.path}@{cfg.data.rev}" if cfg.data.rev else cfg.data.path
    out_dir = Path(cfg.paths.prepared_dir)
    with stream.local_copy(cfg) as (path, md5), atomic_outputs() as out:
        data = {
            "md5": md5,
            "source": "file",
            "name": cfg.data.name,
            "path": cfg.data.path,
            "rev": cfg.data.rev,
        }
        if cfg.data.rev is not None:
            from assayml.records import resolve_rev

            data["rev_commit"] = resolve_rev(cfg.paths.root_dir, cfg.data.rev)
        out.own_dir(out_dir)
        total = stream.parquet_rows(path)
        batches = stream.parquet_batches(path)
        first = next(batches, None)
        if first is None or first.empty:
            raise DataError(f"{where}: the file has no rows")
        columns = stream.batch_schema(cfg.data, first)
        data_cfg = replace(cfg.data, columns=columns)
        names = {**{s: f"{s}.parquet" for s in SPLITS}, "sample": stream.SAMPLE_FILE}
        writer = stream.SplitWriter({k: out.path(out_dir / v) for k, v in names.items()})
        labels = stream.Labels(cfg.data.target)

        def validated():
            for frame in itertools.chain([first], batches):
                frame = validate_frame(frame, data_cfg, where)
                labels.add(frame)
                yield frame

        batch_count = -(-total // stream.BATCH_ROWS)
        try:
            samples = stream.split_stream(
                track(validated(), "prepare: batches", batch_count), cfg, total, writer
            )
        except BaseException:
            writer.abort()
            raise
        empty = validate_frame(first, data_cfg, where).iloc[:0]
        writer.close(empty)
        if min(writer.rows[s] for s in SPLITS) < 1:
            raise DataError(f"{total} rows are too few to split as configured")
        sampled = stream.sample_frames(samples, empty)
        task = resolve_task(cfg.data, labels.distinct())
        profile = profile_splits(sampled, cfg.data.target, task.name)
        profile.update(
            rows={s: writer.rows[s] for s in SPLITS},
            sampled_rows={s: len(sampled[s]) for s in SPLITS},
            streaming=True,
        )
        write_profile(out, cfg, profile, data, columns)
        details = {"task": task.name, "rows": profile["rows"], "raw_rows": total, "streaming": True}
        return finish_record(out, "prepare", cfg, data, [], started, details)


def write_profile(out, cfg: AssayConfig, profile: dict, data: dict, columns) -> None:
    """Complete ``profile`` with the data's identity, schema and the split files' hashes
    (written before it in ``out``) and write it."""
    profile.update(
        data=data,
        schema=schema_dict(columns),
        sensitive=list(cfg.data.sensitive),
        reference_groups=dict(cfg.data.reference_groups),
        image_shape=cfg.data.image_shape,
        hashes=out.digests(),
    )
    out.write_json(Path(cfg.paths.prepared_dir) / PROFILE_FILE, profile)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def schema_dict(columns: dict[str, ColumnSpec]) -> dict[str, dict[str, Any]]:
    """The schema the data was validated against, as JSON (enums by name)."""
    return {name: {**asdict(spec), "dtype": spec.dtype.name} for name, spec in columns.items()}
