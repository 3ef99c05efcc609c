"""What every stage does alike: build and save its record, read upstream records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assayml.config.load import config_hash
from assayml.config.schema import AssayConfig
from assayml.errors import ArtifactError
from assayml.records import StageRecord, environment, git_state, run_facts_path, utc_now
from assayml.utils.io import OutputBatch, md5_file

if TYPE_CHECKING:
    from assayml.features.transform import FeatureTransform


def finish_record(
    out: OutputBatch,
    stage: str,
    cfg: AssayConfig,
    data: dict[str, Any],
    inputs: list[Path],
    started_at: str,
    details: dict[str, Any],
) -> StageRecord:
    """Build the stage's record from what ``out`` holds and stage it as
    ``records/<stage>.json``, its volatile facts (times, git, machine) apart from it
    (records.py), so that the same inputs give the same bytes in what DVC hashes."""
    record = StageRecord(
        stage=stage,
        config_hash=config_hash(cfg),
        seed=cfg.seed,
        data=data,
        inputs={str(p): md5_file(p) for p in inputs},
        outputs=out.digests(),
        started_at=started_at,
        finished_at=utc_now(),
        git=git_state(cfg.paths.root_dir),
        environment=environment(),
        details=details,
    )
    out.write_json(run_facts_path(cfg.paths.records_dir, record.to_dict()), record.run_facts())
    out.write_record(record_path(cfg, stage), record.to_dict())
    return record


def record_path(cfg: AssayConfig, stage: str) -> Path:
    return Path(cfg.paths.records_dir) / f"{stage}.json"


def read_json(path: Path, produced_by: str) -> dict[str, Any]:
    """An upstream JSON output; missing or malformed means that stage must run (again)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found (run `assay {produced_by}` first)") from None
    except ValueError as err:
        raise ArtifactError(
            f"{path}: unreadable JSON ({err}); rerun `assay {produced_by}`"
        ) from err


def read_parquet(path: Path, produced_by: str):
    """An upstream Parquet output; missing or damaged means that stage must run (again)."""
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found (run `assay {produced_by}` first)") from None
    except Exception as err:  # pyarrow raises several kinds for a damaged file
        raise ArtifactError(f"{path}: unreadable ({err}); rerun `assay {produced_by}`") from err


def transformed_split(path: Path, transform: FeatureTransform, streaming: bool):
    """(model inputs, raw target) of a split; under ``data.streaming`` built a record
    batch at a time, so the raw table is never held whole."""
    if not streaming:
        frame = read_parquet(path, "prepare")
        return transform.transform(frame), frame[transform.target.name]
    import numpy as np
    import pandas as pd

    from assayml.data.streaming import parquet_batches

    if not path.is_file():
        raise ArtifactError(f"{path}: not found (run `assay prepare` first)")
    columns = [*transform.input_columns, transform.target.name]
    xs, ys = [], []
    for frame in parquet_batches(path, columns):
        xs.append(transform.transform(frame))
        ys.append(frame[transform.target.name])
    return np.concatenate(xs), pd.concat(ys, ignore_index=True)


def train_rows_file(cfg: AssayConfig) -> Path:
    """The training rows a stage that needs them as a table reads: the split, or where
    ``prepare`` streamed the data its seeded sample (a split larger than memory cannot be a
    table). ``prepare`` owns the folder, so the sample is there only after a streamed run."""
    from assayml.data.streaming import SAMPLE_FILE

    prepared = Path(cfg.paths.prepared_dir)
    return prepared / SAMPLE_FILE if streamed(cfg) else prepared / "train.parquet"


def streamed(cfg: AssayConfig) -> bool:
    """Whether ``prepare`` last streamed the data (it owns the folder: the train sample is
    there only then)."""
    from assayml.data.streaming import SAMPLE_FILE

    return (Path(cfg.paths.prepared_dir) / SAMPLE_FILE).is_file()


def upstream_data(cfg: AssayConfig, produced_by: str) -> dict[str, Any]:
    """The raw-data identity an upstream stage recorded, carried into this stage's record."""
    return read_json(record_path(cfg, produced_by), produced_by)["data"]


__all__ = ["finish_record", "read_json", "read_parquet", "record_path", "upstream_data", "utc_now"]
