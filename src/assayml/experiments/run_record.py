"""``run.json``: one interactive run or sweep job, as `assay runs` lists and compares it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assayml.experiments.runs import RUN_FILE
from assayml.records import git_state, utc_now
from assayml.utils.io import write_json_atomic

METRIC_STAGES = ("evaluate", "cv")  # stages whose numeric details are the run's metrics


def write_run_record(
    run_dir: Path, command: str, overrides: list[str], outcome: dict[str, Any], started: str
) -> dict[str, Any]:
    """Write ``run_dir/run.json`` from a job's outcome and return it."""
    records, cfg = outcome["records"], outcome["config"]
    first = next(iter(records.values()), None)
    doc = {
        "command": command,
        "overrides": overrides,
        "status": "pruned" if outcome.get("pruned") else "ok" if outcome["code"] == 0 else "failed",
        "exit_code": outcome["code"],
        "error": outcome["error"],
        "started_at": started,
        "finished_at": utc_now(),
        "stages": list(records),
        "config_hash": first.config_hash if first else None,
        "seed": cfg.seed if cfg is not None else None,
        "data": first.data if first else None,
        "git": first.git if first else git_state(),
        "out_dir": cfg.paths.out_dir if cfg is not None else None,
        "metrics": run_metrics(records),
        "config": _plain_config(cfg),
    }
    write_json_atomic(run_dir / RUN_FILE, doc)
    return doc


def run_metrics(records: dict[str, Any]) -> dict[str, float]:
    """The numeric results of the metric stages, flat (``evaluate`` first)."""
    metrics: dict[str, float] = {}
    for stage in METRIC_STAGES:
        record = records.get(stage)
        if record is None:
            continue
        for key, value in record.details.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[key if stage == "evaluate" else f"{stage}.{key}"] = value
    return metrics


def _plain_config(cfg: Any) -> dict[str, Any] | None:
    if cfg is None:
        return None
    from assayml.config.load import canonical_json

    return json.loads(canonical_json(cfg))
