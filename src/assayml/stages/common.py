"""What every stage does alike: build and save its record, read upstream records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assayml.config.load import config_hash
from assayml.config.schema import AssayConfig
from assayml.errors import ArtifactError
from assayml.records import StageRecord, environment, git_state, utc_now
from assayml.utils.io import OutputBatch, md5_file


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
    ``records/<stage>.json``: beside the outputs, not inside them, so that the times it
    holds never make a rerun's outputs differ (DVC would then rerun everything downstream)."""
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
    out.write_json(record_path(cfg, stage), record.to_dict())
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


def train_rows_file(cfg: AssayConfig) -> Path:
    """The training rows a stage that needs them as a table reads: the split, or under
    ``data.streaming`` its seeded sample (a split larger than memory cannot be a table)."""
    from assayml.data.streaming import SAMPLE_FILE

    name = SAMPLE_FILE if cfg.data.streaming else "train.parquet"
    return Path(cfg.paths.prepared_dir) / name


def upstream_data(cfg: AssayConfig, produced_by: str) -> dict[str, Any]:
    """The raw-data identity an upstream stage recorded, carried into this stage's record."""
    return read_json(record_path(cfg, produced_by), produced_by)["data"]


__all__ = ["finish_record", "read_json", "read_parquet", "record_path", "upstream_data", "utc_now"]
