"""What a report shows, gathered from a run folder, the workspace or a registry version.

All three share one layout (``records/``, ``metrics/``, ``plots/``, ``reports/explain/``,
``data/prepared/profile.json``, ``monitoring/``): a run folder is it, the workspace is it in
pipeline mode, and a registry version stores the same files under ``evidence/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assayml.audit import read_entries, verify
from assayml.errors import ArtifactError
from assayml.lineage import render, sources
from assayml.lineage.graph import Lineage
from assayml.records import with_run_facts


@dataclass
class ReportInputs:
    title: str
    subject: str  # run id, "workspace" or name@version
    facts: dict[str, Any]  # identity: status, times, git, config hash, seed, data
    folder: Path  # the run layout to read sections from
    config: dict[str, Any] | None
    lineage: Lineage | None
    weights_sha256: str | None
    audit: list[dict[str, Any]] = field(default_factory=list)
    audit_intact: str = ""
    monitor: dict[str, Any] | None = None
    monitor_source: str | None = None
    model_card: dict[str, Any] | None = None  # its `debugger` entries: the training section


def from_run(run, root: Path) -> ReportInputs:
    """A run or sweep job (``assay runs``): its folder holds the outputs."""
    doc = run.doc
    folder = root / (doc.get("out_dir") or run.id)
    models = folder / "models"
    facts = {
        "command": "assay " + " ".join([doc.get("command", ""), *doc.get("overrides", [])]),
        "status": f"{doc.get('status')} (exit code {doc.get('exit_code')})",
        "started": doc.get("started_at"),
        "finished": doc.get("finished_at"),
        "stages": ", ".join(doc.get("stages") or []),
        "error": doc.get("error"),
        **_identity(doc),
    }
    return _finish(
        ReportInputs(
            title=f"Run {run.id}",
            subject=run.id,
            facts=facts,
            folder=folder,
            config=doc.get("config"),
            lineage=_models_lineage(models),
            weights_sha256=_weights(models),
            model_card=read_output(models / "model_card.json"),
        ),
        root,
        doc.get("config_hash"),
    )


def from_workspace(root: Path) -> ReportInputs:
    """The pipeline's outputs in the project root (what ``dvc repro`` last built)."""
    models = root / "models"
    card = read_output(models / "model_card.json") or {}
    train = with_run_facts(root / "records", "train", read_output(root / "records/train.json"))
    train = train or {}
    facts = {
        "models": str(models),
        "trained": train.get("finished_at"),
        **_identity({**card, "git": train.get("git") or card.get("git")}),
    }
    return _finish(
        ReportInputs(
            title="Workspace",
            subject="workspace",
            facts=facts,
            folder=root,
            config=read_output(models / "config.json"),
            lineage=_models_lineage(models),
            weights_sha256=_weights(models),
            model_card=card or None,
        ),
        root,
        card.get("config_hash"),
    )


def from_version(registry, doc: dict[str, Any], scratch: Path, root: Path) -> ReportInputs:
    """A registered version, from the files the registry stored (each verified)."""
    meta = doc["metadata"]
    registry.materialize(doc, scratch)
    review = doc.get("review") or {}
    facts = {
        "status": doc["status"] + (f", stage {doc['stage']}" if doc.get("stage") else ""),
        "registered": f"{doc['registered_at']} by {doc['registered_by']}",
        "review": " ".join(str(review.get(k)) for k in ("by", "at", "reason") if review.get(k))
        or None,
        "weights sha256": meta.get("weights_sha256"),
        **_identity(meta),
    }
    subject = f"{doc['name']}@{doc['version']}"
    return _finish(
        ReportInputs(
            title=f"Model {subject}",
            subject=subject,
            facts=facts,
            folder=scratch / "evidence",
            config=meta.get("params"),
            lineage=sources.from_version(registry, doc),
            weights_sha256=meta.get("weights_sha256"),
            model_card=meta.get("model_card"),
        ),
        root,
        meta.get("config_hash"),
    )


def _identity(doc: dict[str, Any]) -> dict[str, Any]:
    git = doc.get("git") or {}
    data = doc.get("data") or {}
    commit = git.get("commit")
    return {
        "config hash": doc.get("config_hash"),
        "seed": doc.get("seed", (doc.get("training") or doc.get("params") or {}).get("seed")),
        "git commit": commit and commit + (" (uncommitted changes)" if git.get("dirty") else ""),
        "data": " ".join(f"{k}={v}" for k, v in data.items() if v is not None) or None,
    }


def _finish(inputs: ReportInputs, root: Path, config_hash: str | None) -> ReportInputs:
    """The audit entries about this model and its latest monitoring result."""
    verdict = verify(root)
    inputs.audit_intact = (
        f"hash chain intact ({verdict.entries} entries)"
        if verdict.intact
        else f"hash chain BROKEN: {verdict.problem}"
    )
    inputs.audit = [e for e in read_entries(root) if _concerns(e, inputs, config_hash)]
    monitors = [e for e in inputs.audit if e["action"] == "monitor.run"]
    for entry in reversed(monitors):
        path = Path(entry["subject"]).parent / "monitor.json"
        path = path if path.is_absolute() else root / path
        if path.is_file():
            inputs.monitor, inputs.monitor_source = json.loads(path.read_text()), str(path)
            break
    return inputs


def _concerns(entry: dict[str, Any], inputs: ReportInputs, config_hash: str | None) -> bool:
    if config_hash and entry.get("config_hash") == config_hash:
        return True
    model = str((entry.get("details") or {}).get("model", ""))
    sha = inputs.weights_sha256
    return bool(sha) and model.endswith(":" + sha[:12])


def _models_lineage(models: Path) -> Lineage | None:
    return sources.from_models_dir(models) if (models / "model.json").is_file() else None


def _weights(models: Path) -> str | None:
    return (read_output(models / "model.json") or {}).get("weights_sha256")


def read_output(path: Path) -> Any:
    """A run's JSON output, or None where its stage has not run."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ArtifactError(
            f"{path}: not valid JSON ({err}); rerun the stage that writes it"
        ) from None


def lineage_text(lineage: Lineage | None) -> str | None:
    return render.as_text(lineage) if lineage is not None else None
