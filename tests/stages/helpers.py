"""Run stages in a test project and fingerprint what they wrote."""

from __future__ import annotations

import hashlib
from pathlib import Path

from assayml.config.schema import AssayConfig
from assayml.stages.table import get_stage

OUTPUT_DIRS = (
    "data/prepared",
    "artifacts",
    "models",
    "metrics",
    "plots",
    "records",
    "reports",
    "monitoring",
)


CORE = ("prepare", "features", "train", "evaluate")  # what most tests need
TIMED_MODEL_FILES = ("model_card.json", "manifest.json")


def run_stages(cfg: AssayConfig, names: tuple[str, ...] = CORE) -> dict:
    return {name: get_stage(name).run(cfg) for name in names}


def fingerprint(root: Path) -> dict[str, str]:
    """SHA-256 of every output file under root (records excluded: they hold times)."""
    found = {}
    for folder in OUTPUT_DIRS:
        for path in sorted((root / folder).rglob("*")):
            # The model card holds times, and the manifest its SHA-256.
            timed = path.parent.name == "records" or path.name in TIMED_MODEL_FILES
            if path.is_file() and not timed:
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def all_files(root: Path) -> dict[str, bytes]:
    """Every output file's bytes, records included: what 'left intact' compares."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for folder in OUTPUT_DIRS
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }
