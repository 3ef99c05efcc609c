"""What ``assay monitor`` reads: the baseline folder, the current rows (a CSV or Parquet file,
or a folder of captured JSON-lines or Parquet files) and the labels that arrived later."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assayml.config.schema import MonitorConfig
from assayml.errors import ArtifactError, ConfigError, DataError
from assayml.monitor.baseline import feature_rule, settings
from assayml.monitor.drift import DriftRule, NumericReference

BASELINE_FILES = ("statistics.json", "constraints.json", "reference.npz")
ID_COLUMNS = ("id", "capture_id")


@dataclass
class Baseline:
    directory: Path
    statistics: dict[str, Any]
    constraints: dict[str, Any]
    settings: MonitorConfig
    rules: dict[str, DriftRule]  # per feature, from constraints.json
    references: dict[str, NumericReference]  # numeric features
    arrays: dict[str, np.ndarray]  # "prediction" (regression), "shap_background"


@dataclass
class Current:
    frame: pd.DataFrame  # the rows as received
    ids: pd.Series | None  # capture ids (a capture folder, or an id column)
    served: pd.Series | None  # the predictions captured with the rows
    source: str
    outputs: pd.DataFrame | None = None  # every captured output column (probabilities, ...)


def load_baseline(directory: str | Path) -> Baseline:
    directory = Path(directory)
    missing = [f for f in BASELINE_FILES if not (directory / f).is_file()]
    if missing:
        raise ArtifactError(
            f"{directory}: no baseline ({', '.join(missing)} missing): run "
            "`assay baseline` (or `dvc repro baseline`) first"
        )
    statistics = _json(directory / "statistics.json")
    constraints_path = directory / "constraints.json"
    constraints = _json(constraints_path)
    inputs = constraints.get("inputs") or {}
    if inputs.get("monitored") is False:
        raise ConfigError(f"{constraints_path}: {inputs.get('reason', 'inputs are not monitored')}")
    rules = {c["name"]: feature_rule(c, str(constraints_path)) for c in constraints["features"]}
    with np.load(directory / "reference.npz", allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    references = {
        key.removeprefix("feature/"): NumericReference.stored(
            values, arrays.get(key.replace("feature/", "count/", 1))
        )
        for key, values in arrays.items()
        if key.startswith("feature/")
    }
    extra = {k: v for k, v in arrays.items() if not k.startswith(("feature/", "count/"))}
    return Baseline(
        directory,
        statistics,
        constraints,
        settings(constraints, str(constraints_path)),
        rules,
        references,
        extra,
    )


def read_current(path: str | Path, in_memory_rows: int | None = None) -> Current:
    """A CSV/Parquet file, or a capture folder (``capture-*.jsonl`` / ``.parquet``). A
    Parquet file of more than ``in_memory_rows`` rows is read a column (or a batch of
    rows) at a time: ``Current.frame`` is then a :class:`ParquetColumns`."""
    from assayml.config.schema import FileFormat
    from assayml.data.sources import parse_table

    path = Path(path)
    if path.is_dir():
        return read_captured(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    if in_memory_rows is not None and path.suffix.lower() in (".parquet", ".pq"):
        from assayml.monitor.large import ParquetColumns

        columns = ParquetColumns(path, drop=ID_COLUMNS)
        if len(columns) > in_memory_rows:
            key = next((c for c in ID_COLUMNS if c in columns.file.schema_arrow.names), None)
            ids = columns.read([key])[key] if key else None
            return Current(columns, ids, None, str(path))
    frame = parse_table(path.read_bytes(), str(path), FileFormat.auto)
    ids = next((frame.pop(c) for c in ID_COLUMNS if c in frame.columns), None)
    return Current(frame, ids, None, str(path))


def read_captured(folder: Path) -> Current:
    """Captured records, oldest file first; a line that is not JSON is an error naming the
    file and line (a torn record would otherwise pass unseen)."""
    files = sorted(folder.glob("capture-*.jsonl"), key=_mtime) + sorted(
        folder.glob("capture-*.parquet"), key=_mtime
    )
    if not files:
        raise DataError(f"{folder}: no capture-*.jsonl or capture-*.parquet files")
    parts = [_read_capture_file(f) for f in files]
    records = pd.concat(parts, ignore_index=True)
    return captured_current(records, str(folder))


def captured_current(records: pd.DataFrame, source: str) -> Current:
    """Captured records (``id``, ``inputs.*``, ``outputs.*``, flattened) as current rows."""
    if "id" not in records.columns:
        raise DataError(f"{source}: captured records without an 'id'")
    inputs = [c for c in records.columns if c.startswith("inputs.")]
    frame = records[inputs].rename(columns=lambda c: c.removeprefix("inputs."))
    outputs = records[[c for c in records.columns if c.startswith("outputs.")]]
    outputs = outputs.rename(columns=lambda c: c.removeprefix("outputs.")).reset_index(drop=True)
    served = outputs["prediction"] if "prediction" in outputs.columns else None
    return Current(frame.reset_index(drop=True), records["id"], served, source, outputs)


def _read_capture_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):  # the writer has not finished this line yet
                from assayml.verbosity import say

                say(f"{path}: line {number} has no newline yet (being written): left out")
                break
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: line {number} is not a JSON record ({err})") from None
    return pd.json_normalize(rows)


def read_labels(path: str | Path, current: Current, target: str) -> pd.Series:
    """Ground truth aligned with the current rows (NaN where none arrived): joined on
    ``id``/``capture_id`` when both sides have ids, else row by row (same length)."""
    from assayml.monitor.ground_truth import join_labels

    return join_labels(path, current.ids, len(current.frame), target).labels


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{path}: not valid JSON ({err})") from None


def _mtime(path: Path) -> tuple[float, str]:
    return path.stat().st_mtime, path.name


RULE_KEYS = {
    "numeric_test",
    "categorical_test",
    "min_effect",
    "wasserstein_threshold",
    "js_threshold",
    "psi_threshold",
}


def with_overrides(baseline: Baseline, overrides: list[str]) -> Baseline:
    """``monitor.KEY=VALUE`` overrides (Hydra's syntax) on the baseline's settings; one
    that changes a test or a threshold resets every feature's rule to the new settings."""
    import dataclasses

    import yaml

    from assayml.errors import ConfigError
    from assayml.monitor.drift import default_rule

    names = {f.name for f in dataclasses.fields(MonitorConfig)}
    changes = {}
    for override in overrides:
        key, sep, value = override.partition("=")
        name = key.removeprefix("monitor.")
        if not sep or not key.startswith("monitor.") or name not in names:
            raise ConfigError(
                f"override '{override}': expected monitor.KEY=VALUE with KEY one "
                f"of {', '.join(sorted(names))}"
            )
        changes[name] = yaml.safe_load(value)
    if not changes:
        return baseline
    try:
        settings = dataclasses.replace(baseline.settings, **changes)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"override: {err}") from err
    rules = baseline.rules
    if RULE_KEYS & set(changes):
        kinds = {c["name"]: c["inferred_type"] for c in baseline.constraints["features"]}
        rules = {name: default_rule(kinds[name] != "String", settings) for name in rules}
    return dataclasses.replace(baseline, settings=settings, rules=rules)
