"""Run records: what made an artifact (config, data, code, environment, seed, times).

Every stage saves one beside its outputs; the model card, lineage and ``reproduce`` read
them. Nothing here imports torch unless the calling process already has.

A record holds two kinds of facts. ``records/<stage>.json`` holds those that follow from
the stage's inputs (config hash, seed, data, input and output hashes, results): DVC hashes
it, so the same inputs must give the same bytes. The volatile ones (times, the git commit
checked out, the machine and its packages) would give every rerun a new hash and make DVC
rerun everything downstream; they go to ``.assay/stage_runs/<stage>-<key>.json`` beside the
records' folder (git-ignored, not a DVC output) and to the audit trail, and
:func:`with_run_facts` joins the two again where a reader wants both.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

KEY_PACKAGES = (
    "assayml",
    "torch",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "dvc",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "pandera",
    "safetensors",
)


THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
)


@dataclass
class StageRecord:
    stage: str
    config_hash: str
    seed: int
    data: dict[str, Any]  # md5 and origin of the raw data this result descends from
    inputs: dict[str, str]  # path -> md5
    outputs: dict[str, str]  # path -> md5
    started_at: str
    finished_at: str
    git: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # stage-specific results

    def to_dict(self) -> dict[str, Any]:
        """The facts that follow from the inputs: what ``records/<stage>.json`` holds."""
        return {k: v for k, v in asdict(self).items() if k not in VOLATILE_FIELDS}

    def run_facts(self) -> dict[str, Any]:
        """The volatile facts, keyed to the record by its config hash and outputs."""
        facts = asdict(self)
        keys = (*FACTS_KEY, *VOLATILE_FIELDS)
        return {k: facts[k] for k in keys}


VOLATILE_FIELDS = ("started_at", "finished_at", "git", "environment")
RUN_FACTS_DIR = Path(".assay") / "stage_runs"


def run_facts_path(records_dir: str | Path, record: dict[str, Any]) -> Path:
    """Where the volatile facts of the run that made ``record`` go: beside the records'
    folder, never inside it, one file per result (stage, config hash and outputs), so that
    a result DVC restores from its cache still finds the facts of the run that made it."""
    import hashlib
    import json

    key = json.dumps([record.get(k) for k in FACTS_KEY], sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(records_dir).parent / RUN_FACTS_DIR / f"{record.get('stage')}-{digest}.json"


FACTS_KEY = ("stage", "config_hash", "outputs")  # what ties a record to its run's facts


def with_run_facts(records_dir: str | Path, stage: str, record: dict[str, Any] | None):
    """``record`` with the volatile facts of the run that made it, where they are on disk;
    otherwise ``record`` as it is (made elsewhere, e.g. in a clone, and pulled)."""
    import json

    if not isinstance(record, dict):
        return record
    try:
        facts = json.loads(run_facts_path(records_dir, record).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return record
    if not isinstance(facts, dict) or any(facts.get(k) != record.get(k) for k in FACTS_KEY):
        return record
    return {**record, **{k: facts.get(k) for k in VOLATILE_FIELDS}}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Files the pipeline itself rewrites (git-tracked results): a change to them is not a change
# to the code or config that made a result, so it does not make the work tree "dirty".
DERIVED_PATHS = (
    "metrics",
    "plots",
    "records",
    "reports",
    "dvclive",
    "dvc.lock",
    "params.provenance.json",
    "audit",
    "registry",
)
MAX_CHANGED_LISTED = 20


def git_state(root: str | Path = ".") -> dict[str, Any]:
    """The commit checked out at ``root``, and whether code or config differ from it
    (``changed`` names up to 20 such files; pipeline results don't count)."""
    excluded = [f":(exclude){path}" for path in DERIVED_PATHS]
    excluded.append(":(exclude,glob)**/.gitignore")  # DVC adds its outputs to these
    try:
        commit = _git(root, "rev-parse", "HEAD")
        # Tracked files only: untracked ones are, in a pipeline, mostly its own outputs
        # (and `git describe --dirty` counts them alike).
        status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded)
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None, "changed": []}
    changed = [line[3:] for line in status.splitlines()]
    return {"commit": commit, "dirty": bool(changed), "changed": changed[:MAX_CHANGED_LISTED]}


def resolve_rev(root: str | Path, rev: str) -> str | None:
    """The commit a revision (tag, branch, sha) names now: tags and branches can move."""
    try:
        return _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    except (OSError, subprocess.CalledProcessError):
        return None


def _git(root: str | Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.rstrip()


def environment() -> dict[str, Any]:
    """Python, platform, CPU, accelerator and package versions of this process."""
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": {name: _version(name) for name in KEY_PACKAGES},
        "threads": {k: os.environ.get(k) for k in THREAD_VARIABLES if os.environ.get(k)},
        "installed": installed_packages(),
    }
    if "torch" in sys.modules:
        env.update(torch_environment())
    return env


@functools.cache
def installed_packages() -> dict[str, str]:
    """Every installed distribution and its version, sorted by name (where one is installed
    twice, the first on sys.path: the one Python imports). Read once per process."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _name_and_version(dist)
        if name and version:
            found.setdefault(name.lower(), version)
    return dict(sorted(found.items()))


def _name_and_version(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    """Name and Version from the metadata file's header lines. Hand-read because
    ``dist.metadata`` parses the whole file with the email package: 370 distributions
    took 0.5 s of every stage's record, for two header lines each."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the header ends at the first blank line
        key, _, value = line.partition(":")
        if key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    return fields.get("Name"), fields.get("Version")


def torch_environment() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda if cuda else None,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str | None:
    return installed_packages().get(name.lower())
