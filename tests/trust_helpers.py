"""Hostile model folders and registry versions for the trust-boundary tests.

Each attack writes a marker file if any of its code runs, so a test asserts the marker
does not exist. The folders are copies of the session's trained credit model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from assayml.models.manifest import MANIFEST_FILE, folder_digests, manifest_document
from tests import cli_fork
from tests.conftest import REPO, cli_env

ASSAY = [sys.executable, "-m", "assayml.cli.main"]

HUBCONF = """\
import pathlib

pathlib.Path({marker!r}).write_text("hubconf.py was imported")


def evil(in_features, out_features):
    pathlib.Path({marker!r}).write_text("evil() was called")
    import torch

    return torch.nn.Linear(in_features, out_features)
"""


def assay(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``assay ARGS`` in a subprocess, from ``cwd``."""
    return cli_fork.run(
        [*ASSAY, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, check=False
    )


def project_dir(tmp_path: Path) -> Path:
    """A project root holding a copy of this repository's conf/ (data=file with a card)."""
    from tests.card_helpers import fill_file_card

    root = tmp_path / "project"
    shutil.copytree(REPO / "conf", root / "conf")
    fill_file_card(root / "conf")
    return root


def copy_models(credit_project: Path, dest: Path) -> Path:
    shutil.copytree(credit_project / "models", dest)
    return dest


def reseal(folder: Path) -> None:
    """Write a manifest matching the folder as it is now (what an attacker can do too)."""
    doc = manifest_document(folder_digests(folder))
    (folder / MANIFEST_FILE).write_text(json.dumps(doc, indent=2))


def edit_spec(folder: Path, **changes) -> None:
    spec_path = folder / "model.json"
    spec = json.loads(spec_path.read_text())
    spec.update(changes)
    spec_path.write_text(json.dumps(spec, indent=2))


def plant_hub_attack(folder: Path, marker: Path) -> None:
    """``target: torch.hub.load`` with a ``hubconf.py`` beside the weights, resealed."""
    (folder / "hubconf.py").write_text(HUBCONF.format(marker=str(marker)))
    edit_spec(
        folder,
        target="torch.hub.load",
        kwargs={"repo_or_dir": str(folder), "model": "evil", "source": "local"},
    )
    reseal(folder)


def plant_os_system(folder: Path, marker: Path) -> None:
    """``target: os.system`` with a shell command in the kwargs, resealed."""
    edit_spec(folder, target="os.system", kwargs={"command": f"touch {marker}"})
    reseal(folder)


def input_csv(tmp_path: Path) -> Path:
    from assayml.data.credit import generate_credit

    path = tmp_path / "new.csv"
    generate_credit(20, seed=3).drop(columns="repaid").to_csv(path, index=False)
    return path


def forge_version(registry: Path, name: str, folder: Path, version: int = 1) -> dict:
    """Store ``folder`` as ``name@version`` by writing the registry's files directly,
    as someone with write access to the registry folder could (bypassing register)."""
    files = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        obj = registry / "objects" / digest[:2] / digest
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data)
        files[f"model/{path.name}"] = digest
    doc = {
        "name": name,
        "version": version,
        "status": "Approved",
        "stage": "production",
        "registered_at": "2026-11-30T00:00:00Z",
        "registered_by": "mallory",
        "files": files,
        "metadata": {},
        "history": [],
    }
    write_version(registry, name, version, doc)
    return doc


def write_version(registry: Path, name: str, version: int | str, doc: dict) -> Path:
    path = registry / "models" / name / f"{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    return path
