"""Runs and sweep jobs, found from the ``run.json`` each one leaves: listed and compared.

A run's id is its folder relative to the project root: ``.assay/runs/<time>`` for an
interactive run, ``multirun/<time>/<job>`` for a sweep job. Git revisions and DVC
experiments are compared by :mod:`assayml.experiments.commits`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assayml.errors import BadInputError

RUN_FILE = "run.json"
RUN_DIRS = ".assay/runs/*"  # interactive runs (conf/hydra/default.yaml)
SWEEP_MARKERS = ("*/multirun.yaml", "*/*/multirun.yaml", "*/*/*/multirun.yaml")  # Hydra's


@dataclass
class Run:
    id: str
    doc: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.doc.get("metrics") or {}


def find_runs(root: str | Path = ".") -> list[Run]:
    """Every run under ``root``, newest first."""
    root = Path(root)
    files = list(root.glob(f"{RUN_DIRS}/{RUN_FILE}"))
    for pattern in SWEEP_MARKERS:  # sweep folders anywhere near the root, e.g. multirun/<t>
        for marker in root.glob(pattern):
            files += marker.parent.glob(f"*/{RUN_FILE}")
    runs = []
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # a run killed while writing leaves no readable record: skip it
        runs.append(Run(path.parent.relative_to(root).as_posix(), doc))
    return sorted(runs, key=lambda r: r.doc.get("started_at") or "", reverse=True)


def resolve_run(ref: str, runs: list[Run]) -> Run:
    """The run whose id is ``ref`` or ends with it; ambiguous or unknown refs are errors."""
    matches = matching_runs(ref, runs)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInputError(f"no run matches '{ref}' (see `assay runs`)")
    shown = ", ".join(r.id for r in matches[:5])
    raise BadInputError(f"'{ref}' matches {len(matches)} runs ({shown}); give more of the id")


def matching_runs(ref: str, runs: list[Run]) -> list[Run]:
    """The runs whose id is ``ref``, else those whose id ends with it."""
    ref = ref.rstrip("/")
    exact = [r for r in runs if r.id == ref]
    return exact or [r for r in runs if r.id.endswith(ref)]


def compare_runs(a: Run, b: Run) -> dict[str, Any]:
    """What differs between two runs: config keys, data version, code and metrics. A run
    that failed before its config validated has none: only its overrides are compared."""
    configs = [r.doc.get("config") for r in (a, b)]
    if None in configs:
        configs = [_overrides_as_config(r) for r in (a, b)]
    flat = _flat(configs[0]), _flat(configs[1])
    differing = {
        k: (flat[0].get(k), flat[1].get(k))
        for k in sorted(set(flat[0]) | set(flat[1]))
        if flat[0].get(k) != flat[1].get(k) and not _run_specific(k)
    }
    metric_keys = sorted(set(a.metrics) | set(b.metrics))
    return {
        "runs": [a.id, b.id],
        "config": differing,
        "data": _pair(a.doc.get("data"), b.doc.get("data")),
        "code": _pair(a.doc.get("git"), b.doc.get("git")),
        "metrics": {
            k: (a.metrics.get(k), b.metrics.get(k), _delta(a.metrics.get(k), b.metrics.get(k)))
            for k in metric_keys
        },
        "status": [a.doc.get("status"), b.doc.get("status")],
    }


def _overrides_as_config(run: Run) -> dict[str, Any]:
    return {"overrides": dict(o.partition("=")[::2] for o in run.doc.get("overrides", []))}


def _pair(a: Any, b: Any) -> dict[str, Any]:
    return {"a": a, "b": b, "same": a == b}


def _delta(a: Any, b: Any) -> float | None:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return round(b - a, 6)
    return None


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flat(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): node}


def _run_specific(key: str) -> bool:
    """Keys that differ between any two runs by construction (where each writes)."""
    return key.startswith("paths.") or key == "logger.save_dir"
