"""``assay prepare``: load the configured data version, validate it, split it with the seed."""

from __future__ import annotations

import io
import itertools
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd

from assayml.config.schema import AssayConfig, ColumnSpec
from assayml.data import insights
from assayml.data.card import card_dict, check_card
from assayml.data.fingerprints import (
    FINGERPRINT_FILE,
    key_fingerprints,
    mark_rows,
    row_fingerprints,
    take_marks,
)
from assayml.data.insights_stream import StreamingInsights
from assayml.data.profile import profile_splits
from assayml.data.schema import declared_columns, validate_frame
from assayml.data.sources import load_raw
from assayml.data.split import SPLITS, split_frame
from assayml.data.task import resolve_task
from assayml.errors import DataError
from assayml.records import StageRecord
from assayml.stages.common import finish_record, utc_now
from assayml.utils import groups as typed
from assayml.utils.io import atomic_outputs

PROFILE_FILE = "profile.json"


def run_prepare(cfg: AssayConfig) -> StageRecord:
    """Write ``{train,val,test}.parquet``, ``profile.json`` and the record to
    ``paths.prepared_dir``; nothing is written unless the data passes its schema."""
    from assayml.config.load import uses_datamodule

    if uses_datamodule(cfg):
        from assayml.stages.datamodule import run_prepare_module

        return run_prepare_module(cfg)
    check_card(cfg.data)
    started = utc_now()
    if cfg.data.streaming:
        return run_prepare_streaming(cfg, started)
    raw = load_raw(cfg.data, cfg.paths.root_dir)
    where = f"{cfg.data.path}@{cfg.data.rev}" if cfg.data.rev else (cfg.data.path or cfg.data.name)
    columns = declared_columns(cfg.data, raw.frame)
    frame = validate_frame(raw.frame, cfg.data, where)
    task = resolve_task(cfg.data, frame[cfg.data.target])
    rows, keys = fingerprints(cfg, frame, where)  # of the validated table, all its columns
    found, frame = whole_table_insights(cfg, frame, raw.frame, task.name)
    columns = {name: spec for name, spec in columns.items() if name in frame.columns}
    marked = mark_rows(frame, rows, keys)
    splits = split_frame(marked, cfg.data.target, task, cfg.data.split, cfg.seed)
    prints = take_marks(splits)
    found += train_insights(cfg, splits["train"], task.name, where, found)
    check_facets(cfg, splits["train"])
    data = {"md5": raw.md5, **raw.origin}
    out_dir = Path(cfg.paths.prepared_dir)
    with atomic_outputs() as out:
        out.own_dir(out_dir)
        for name, part in splits.items():
            out.write_bytes(out_dir / f"{name}.parquet", parquet_bytes(part))
        out.write_bytes(out_dir / FINGERPRINT_FILE, parquet_bytes(prints))
        profile = profile_splits(splits, cfg.data.target, task.name)
        profile["insights"] = [i.to_dict() for i in found]
        write_profile(out, cfg, profile, data, columns)
        details = {
            "task": task.name,
            "rows": profile["rows"],
            "raw_rows": len(raw.frame),
            "insights": insights.summary(found),
        }
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
        seen = StreamingInsights(cfg.data.target, cfg.data.insights)

        def validated():
            for frame in itertools.chain([first], batches):
                frame = validate_frame(frame, data_cfg, where)
                labels.add(frame)
                if cfg.data.insights.enabled:
                    seen.add(frame)
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
        found = seen.finish(sampled["train"], task.name) if cfg.data.insights.enabled else []
        found += train_insights(cfg, sampled["train"], task.name, where, found)
        check_facets(cfg, sampled["train"])
        profile = profile_splits(sampled, cfg.data.target, task.name)
        profile.update(
            rows={s: writer.rows[s] for s in SPLITS},
            sampled_rows={s: len(sampled[s]) for s in SPLITS},
            streaming=True,
            insights=[i.to_dict() for i in found],
        )
        write_profile(out, cfg, profile, data, columns)
        details = {
            "task": task.name,
            "rows": profile["rows"],
            "raw_rows": total,
            "streaming": True,
            "insights": insights.summary(found),
        }
        return finish_record(out, "prepare", cfg, data, [], started, details)


def fingerprints(cfg: AssayConfig, frame: pd.DataFrame, where: str):
    """(row fingerprints, key fingerprints or None) of the validated table."""
    key = cfg.data.key
    if key is not None and key not in frame.columns:
        raise DataError(f"{where}: data.key '{key}' is not a column of the table")
    keys = key_fingerprints(frame[key]) if key is not None else None
    if keys is not None and frame[key].isna().any():
        row = int(frame[key].isna().to_numpy().argmax())
        raise DataError(f"{where}: row {row}: data.key '{key}' is missing (every row needs one)")
    return row_fingerprints(frame), keys


def whole_table_insights(cfg: AssayConfig, frame, raw, task: str):
    """(findings about columns and whole rows, ``frame`` without id_like columns when
    ``data.insights.drop_id_like``)."""
    settings = cfg.data.insights
    if not settings.enabled:
        return [], frame
    target = cfg.data.target
    found = insights.column_insights(frame, raw, target, settings)
    found += insights.table_insights(
        frame, target, task, settings, insights.identifier_columns(found)
    )
    if settings.drop_id_like:
        keep = {target, *cfg.data.sensitive, cfg.explain.bias.group_by}
        frame, _ = insights.drop_id_like(frame, found, keep)
    return found, frame


def train_insights(cfg: AssayConfig, train, task: str, where: str, found: list) -> list:
    """Target leakage on the training split; then stop if any finding (``found`` and
    these) is of a kind ``data.insights.fail_on`` lists."""
    settings = cfg.data.insights
    if not settings.enabled:
        return []
    leaks = insights.leakage_insights(train, cfg.data.target, task, settings, cfg.seed)
    insights.refuse([*found, *leaks], settings.fail_on, where)
    return leaks


def check_facets(cfg: AssayConfig, train) -> None:
    """Stop before writing when a sensitive column is absent or a configured reference group
    matches no training row (compared as typed values: ``1``, ``"1"`` and ``1.0`` alike).

    Raises:
        DataError: naming the column and the values present.
    """
    from assayml.explain.bias_report import reference_group

    for column in cfg.data.sensitive:
        if column not in train.columns:
            raise DataError(
                f"sensitive column '{column}' is not in the data (columns: "
                f"{', '.join(map(str, train.columns))})"
            )
    for column, value in cfg.data.reference_groups.items():
        if column in cfg.data.sensitive:  # others are unused (a data config's default)
            reference_group(train[column], value, column)


def write_profile(out, cfg: AssayConfig, profile: dict, data: dict, columns) -> None:
    """Complete ``profile`` with the data's identity, schema and the split files' hashes
    (written before it in ``out``) and write it."""
    profile.update(
        data=data,
        schema=schema_dict(columns),
        sensitive=list(cfg.data.sensitive),
        # a missing value (.nan, null) as a reference group is the "missing" group
        reference_groups={
            k: typed.MISSING if typed.is_missing(v) else v
            for k, v in cfg.data.reference_groups.items()
        },
        image_shape=cfg.data.image_shape,
        card=card_dict(cfg.data.card),
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
