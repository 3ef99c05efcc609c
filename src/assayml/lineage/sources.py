"""Lineage of a models folder in a workspace, or of a registered version."""

from __future__ import annotations

import hashlib
from pathlib import Path

from assayml.lineage.graph import Lineage, build_lineage, read_json
from assayml.records import with_run_facts
from assayml.registry.collect import RECORD_STAGES
from assayml.utils.yaml_read import safe_load


def from_models_dir(models: str | Path) -> Lineage:
    models = Path(models)
    run = models.parent
    records = {
        s: with_run_facts(run / "records", s, read_json(run / "records" / f"{s}.json"))
        for s in RECORD_STAGES
    }
    lock = run / "dvc.lock"
    spec = read_json(models / "model.json") or {}
    files = {
        f"{models.name}/{p.name}": _md5(p.read_bytes())
        for p in sorted(models.iterdir())
        if p.is_file()
    }
    model = {
        "label": f"model {models}",
        "files": files,
        "attrs": {"weights_sha256": spec.get("weights_sha256"), "path": str(models)},
    }
    return build_lineage(
        model,
        {k: v for k, v in records.items() if v},
        read_json(models / "config.json"),
        safe_load(lock.read_text()) if lock.is_file() else None,
        (read_json(models / "model_card.json") or {}).get("data_card"),
    )


def from_version(registry, doc: dict) -> Lineage:
    meta = doc["metadata"]
    files = {}
    for relpath, digest in doc["files"].items():
        if not relpath.startswith("model/"):
            continue  # evidence for reports (plots, explanations), not the model
        data = registry._object(digest).read_bytes()
        files[relpath] = _md5(data)
    model = {
        "label": f"model {doc['name']}@{doc['version']} ({doc['status']}"
        + (f", {doc['stage']}" if doc["stage"] else "")
        + ")",
        "files": files,
        "attrs": {
            "weights_sha256": meta.get("weights_sha256"),
            "registered_at": doc["registered_at"],
            "registered_by": doc["registered_by"],
            "review": doc.get("review"),
        },
    }
    card = (meta.get("model_card") or {}).get("data_card")
    return build_lineage(
        model, meta.get("records") or {}, meta.get("params"), meta.get("dvc_lock"), card
    )


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
