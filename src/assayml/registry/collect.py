"""What a registered version holds, gathered from a models folder and the run around it:
the model's files, and as metadata its metrics, full config, data and code identity,
environment, model card, the stage records and the DVC lock (for lineage).

Only a sealed folder is accepted: its manifest must match every file (nothing extra, such as
a ``hubconf.py``), and the builder its ``model.json`` names must be one the project trusts,
so a version never stores a model that loading would refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assayml.errors import ArtifactError
from assayml.models.artifact import MANIFEST_FILE, load_spec
from assayml.models.manifest import verify_manifest
from assayml.models.trust import BuilderTrust, project_trust
from assayml.records import with_run_facts
from assayml.utils.yaml_read import safe_load

RECORD_STAGES = ("prepare", "features", "train", "evaluate", "explain")
# What `assay report` shows of a version, stored with it (paths relative to the run folder).
EVIDENCE = (
    "data/prepared/profile.json",
    "data/prepared/fingerprints.parquet",  # what `assay forget` matches (no values)
    "metrics/evaluate.json",
    # what the report draws the evaluation figures from (evaluate.figures=data); not
    # confusion.json or residuals.json, which hold each row's label or target
    "plots/evaluate/roc.json",
    "plots/evaluate/reliability.json",
    "plots/evaluate/uncertainty.json",
    "plots/evaluate/coverage.json",
    "plots/evaluate/*.png",
    "reports/explain/*.json",
    "reports/explain/*.png",
    "monitoring/statistics.json",
)


def collect(
    models_dir: str | Path, trust: BuilderTrust | None = None
) -> tuple[dict[str, Path], dict[str, Any]]:
    """(files to store, metadata) for the model in ``models_dir``; the metrics, records and
    dvc.lock are looked for beside it (``<models_dir>/../``).

    Raises:
        ArtifactError: not a trained models folder, no manifest, a file the manifest does
            not list or that changed, or a builder ``trust`` (default: the project's)
            does not allow; nothing named by the folder is imported.
    """
    models = Path(models_dir)
    card_path = models / "model_card.json"
    if not card_path.is_file():
        raise ArtifactError(f"{models}: no model_card.json: not a trained models folder")
    check_sealed(models, trust or project_trust())
    files = {f"model/{p.name}": p for p in sorted(models.iterdir()) if p.is_file()}
    run = models.parent
    for pattern in EVIDENCE:
        files.update(
            {f"evidence/{p.relative_to(run).as_posix()}": p for p in sorted(run.glob(pattern))}
        )
    card = json.loads(card_path.read_text())
    records = {
        s: with_run_facts(run / "records", s, _json(run / "records" / f"{s}.json"))
        for s in RECORD_STAGES
    }
    git, env = run_provenance(run, card, records.get("train") or {})
    metadata = {
        "metrics": _json(run / "metrics" / "evaluate.json"),
        "params": _json(models / "config.json"),
        "config_hash": card.get("config_hash"),
        "data": card.get("data"),
        "data_card": card.get("data_card"),  # who owns the data, how it may be used
        "git": git,
        "environment": env,
        "weights_sha256": card.get("weights_sha256"),
        "model_card": card,
        "records": {k: v for k, v in records.items() if v is not None},
        "dvc_lock": _yaml(run / "dvc.lock"),
        "source": str(models.resolve()),
    }
    return files, metadata


def check_sealed(models: Path, trust: BuilderTrust) -> None:
    """Refuse a folder without a matching manifest, or whose builder is not trusted."""
    if not verify_manifest(models):
        raise ArtifactError(
            f"{models}: no {MANIFEST_FILE} (saved by an older assayml, or not by assayml); "
            "only a folder whose manifest lists every file can be registered: re-train it"
        )
    trust.check(load_spec(models).target, str(models / "model.json"))


def run_provenance(run: Path, card: dict, train: dict) -> tuple[dict, dict]:
    """The git state and environment that trained the model: the train stage's volatile
    facts (records.py) when they are this model's; else, when no run here made it (DVC
    restored it from its cache, or it came with a clone), the state now, at registration,
    and said so (``recorded: registration``). Cards written before the split hold them."""
    from assayml.records import environment, git_state

    if train.get("git") is not None:
        return train["git"], train.get("environment") or {}
    if card.get("git") is not None:
        return card["git"], card.get("environment") or {}
    top = _repository_top(run)
    return {**git_state(top), "recorded": "registration"}, environment()


def _repository_top(path: Path) -> Path:
    """The work tree holding ``path`` (git_state of a sub-folder sees only that folder)."""
    import subprocess

    try:
        found = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return path
    return Path(found) if found else path


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _yaml(path: Path) -> Any:
    return safe_load(path.read_text()) if path.is_file() else None
