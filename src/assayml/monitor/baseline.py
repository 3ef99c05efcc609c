"""The monitoring baseline, from the training data: ``statistics.json`` and
``constraints.json`` (field names after SageMaker Model Monitor's, both human-editable), and
``reference.npz`` (each numeric feature's sorted training values, for exact KS tests)."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import pandas as pd

from assayml.monitor.drift import (
    CATEGORICAL_TESTS,
    NUMERIC_TESTS,
    DriftRule,
    NumericReference,
    default_rule,
)
from assayml.utils import groups as typed

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
COMPLETENESS_TOLERANCE = 0.02  # a drop in the share of present values beyond this: violation
OUTSIDE_RANGE_SHARE = 0.01  # share of values outside the training range that is a violation


def inferred_type(series: pd.Series, declared: str | None) -> str:
    if declared in ("category", "str", "bool"):
        return "String"
    if declared == "int" or pd.api.types.is_integer_dtype(series):
        return "Integral"
    return "Fractional" if pd.api.types.is_numeric_dtype(series) else "String"


def feature_statistics(name: str, series: pd.Series, kind: str, bins: int) -> dict[str, Any]:
    present = series.dropna()
    common = {"num_present": len(present), "num_missing": int(series.isna().sum())}
    if kind == "String":
        counts = pd.Series(typed.group_names(present)).value_counts()
        buckets = [{"value": str(k), "count": int(v)} for k, v in counts.items()]
        return {
            "name": name,
            "inferred_type": kind,
            "string_statistics": {
                "common": common,
                "distinct_count": len(counts),
                "distribution": {"categorical": {"buckets": buckets}},
            },
        }
    values = present.to_numpy(dtype=np.float64)
    counts, edges = np.histogram(values, bins=bins) if len(values) else (np.array([]), np.array([]))
    return (
        {
            "name": name,
            "inferred_type": kind,
            "numerical_statistics": {
                "common": common,
                "mean": _f(values.mean()),
                "sum": _f(values.sum()),
                "std_dev": _f(values.std()),
                "min": _f(values.min()),
                "max": _f(values.max()),
                "distribution": {
                    "quantiles": {str(q): _f(np.quantile(values, q)) for q in QUANTILES},
                    "histogram": {"edges": [_f(e) for e in edges], "counts": counts.tolist()},
                },
            },
        }
        if len(values)
        else {"name": name, "inferred_type": kind, "numerical_statistics": {"common": common}}
    )


def feature_constraints(stats: dict[str, Any], declared: dict[str, Any], cfg) -> dict[str, Any]:
    kind = stats["inferred_type"]
    common = (stats.get("numerical_statistics") or stats.get("string_statistics"))["common"]
    total = common["num_present"] + common["num_missing"]
    constraint: dict[str, Any] = {
        "name": stats["name"],
        "inferred_type": kind,
        "completeness": round(common["num_present"] / total, 6) if total else 1.0,
    }
    if kind == "String":
        buckets = stats["string_statistics"]["distribution"]["categorical"]["buckets"]
        domain = declared.get("allowed") or sorted(b["value"] for b in buckets)
        constraint["string_constraints"] = {"domains": domain}
        constraint["drift"] = default_rule(False, cfg).to_dict()
    else:
        numeric = stats["numerical_statistics"]
        constraint["num_constraints"] = {"is_non_negative": bool(numeric.get("min", 0) >= 0)}
        constraint["range"] = {
            "min": declared.get("min"),
            "max": declared.get("max"),
            "observed_min": numeric.get("min"),
            "observed_max": numeric.get("max"),
            "observed_count": common["num_present"],
        }
        constraint["drift"] = default_rule(True, cfg).to_dict()
    return constraint


def monitoring_config(cfg) -> dict[str, Any]:
    """The run's settings: ``monitor.*`` as composed at baseline time (edit them here, or
    in conf/monitor and rerun ``assay baseline``)."""
    from assayml.config.monitor_schema import OPERATIONAL_KEYS

    checks = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in OPERATIONAL_KEYS}
    return {
        "completeness_tolerance": COMPLETENESS_TOLERANCE,
        "outside_range_share": OUTSIDE_RANGE_SHARE,
        **checks,
    }


def settings(constraints: dict[str, Any], source: str):
    """The MonitorConfig of a ``constraints.json``, checked as the config is."""
    from assayml.config.monitor_schema import OPERATIONAL_KEYS
    from assayml.config.schema import MonitorConfig
    from assayml.errors import ConfigError

    config = constraints.get("monitoring_config", {})
    names = {f.name for f in dataclasses.fields(MonitorConfig)} - set(OPERATIONAL_KEYS)
    try:
        return MonitorConfig(**{k: v for k, v in config.items() if k in names})
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: monitoring_config: {err}") from err


def feature_rule(constraint: dict[str, Any], source: str) -> DriftRule:
    """A feature's drift rule from its constraint, checked (the file is human-edited)."""
    from assayml.errors import ConfigError

    drift = constraint.get("drift", {})
    numeric = constraint["inferred_type"] != "String"
    allowed = NUMERIC_TESTS if numeric else CATEGORICAL_TESTS
    where = f"{source}: feature '{constraint['name']}': drift"
    if drift.get("test") not in allowed:
        raise ConfigError(f"{where}.test must be one of {', '.join(allowed)}")
    p_value = drift["test"] in ("ks", "chi2")
    if not p_value and not isinstance(drift.get("threshold"), int | float):
        raise ConfigError(f"{where}.threshold must be a number for {drift['test']}")
    return DriftRule(
        drift["test"],
        None if p_value else float(drift["threshold"]),
        float(drift.get("min_effect", 0.0)) if p_value else 0.0,
    )


def reference_bytes(
    frame: pd.DataFrame,
    numeric: list[str],
    rows: int,
    seed: int,
    extra: dict[str, np.ndarray],
) -> bytes:
    """Per numeric feature, the sorted distinct float32 training values (of a seeded
    subsample beyond ``rows``) and their counts where any repeats; and the ``extra``
    arrays (validation predictions for regression, the SHAP background). As ``.npz``: no
    pickles."""
    take = np.arange(len(frame))
    if len(frame) > rows:
        take = np.sort(np.random.default_rng(seed).choice(len(frame), rows, replace=False))
    arrays = {}
    for col in numeric:
        values = frame[col].to_numpy(dtype=np.float32, na_value=np.nan)[take]
        unique, counts = NumericReference(values).split()
        arrays[f"feature/{col}"] = unique
        if counts is not None:
            arrays[f"count/{col}"] = counts.astype(np.uint32)
    arrays |= extra
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _f(value: Any) -> float:
    return round(float(value), 8)
