"""``params.yaml``: the composed config DVC tracks, and the guard against a stale one.

DVC's Hydra integration rewrites ``params.yaml`` from ``conf/`` on ``dvc exp run`` and never on
``dvc repro``. So after an edit to ``conf/``, a plain ``dvc repro`` would silently train on the
old values. The ``params`` stage of ``dvc.yaml`` (deps: ``conf/`` and every param) runs
:func:`check_params` first: it passes when DVC has just composed the file (inside
``dvc exp run``), when the file equals a fresh composition of ``conf/``, or when ``conf/`` has
not changed since the file was composed (the file then holds deliberate overrides, e.g. from
``assay compose model.lr=0.003`` or ``dvc exp apply``). Otherwise it stops the pipeline and
names the one command to run. ``params.provenance.json`` (in git) records the fingerprint of
what the current ``params.yaml`` was composed from: ``conf/`` and the schemas in
``assayml.config`` (a new schema field changes the composition as much as an edited YAML).

The stage's declared output is ``records/params.ok``, whose content never changes: ``prepare``
depends on it only so that DVC runs the check first, and an edit to ``conf/`` reruns nothing
but the stages whose params changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from assayml.errors import ConfigError
from assayml.utils.io import atomic_outputs

PARAMS_FILE = "params.yaml"
PROVENANCE_FILE = "params.provenance.json"
CHECKED_FILE = "records/params.ok"  # the params stage's DVC output: constant content
DVC_EXPERIMENT_ENV = ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV")  # set by `dvc exp run`


def composed_yaml(cfg: DictConfig) -> str:
    """The composed config as DVC writes it: resolved, YAML, no hydra node."""
    cfg = cfg.copy()
    OmegaConf.resolve(cfg)
    return OmegaConf.to_yaml(cfg)


def conf_fingerprint(conf_dir: str | Path) -> str:
    """SHA-256 over every YAML file of ``conf/`` and every schema module of
    ``assayml.config`` (relative path and bytes, in sorted order)."""
    import assayml.config

    schema_dir = Path(assayml.config.__file__).parent
    digest = hashlib.sha256()
    for base, pattern in ((Path(conf_dir), "*.yaml"), (schema_dir, "*.py")):
        for path in sorted(base.rglob(pattern)):
            digest.update(f"{base.name}/{path.relative_to(base).as_posix()}".encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def write_params(cfg: DictConfig, conf_dir: str | Path, root: str | Path = ".") -> Path:
    """Write ``params.yaml`` and its provenance (the conf/ fingerprint) atomically.

    The provenance holds the fingerprint only: it is a dependency of the ``prepare`` stage
    (to order the check first), so it must change only when conf/ does."""
    root = Path(root)
    provenance = {"conf_sha256": conf_fingerprint(conf_dir)}
    with atomic_outputs() as out:
        out.write_text(root / PARAMS_FILE, composed_yaml(cfg))
        out.write_json(root / PROVENANCE_FILE, provenance)
    return root / PARAMS_FILE


def check_params(conf_dir: str | Path, root: str | Path = ".") -> str:
    """Pass (returning why) or raise :class:`ConfigError` if ``params.yaml`` is stale."""
    from assayml.config.load import compose, load_params

    root = Path(root)
    current = conf_fingerprint(conf_dir)
    if any(os.environ.get(name) for name in DVC_EXPERIMENT_ENV):
        reason = "composed by dvc exp run"
    else:
        params = _plain(load_params(root / PARAMS_FILE))
        fresh = _plain(compose([], conf_dir))
        recorded = _read_provenance(root / PROVENANCE_FILE).get("conf_sha256")
        if params == fresh:
            reason = "equal to a fresh composition of conf/"
        elif recorded == current:
            reason = "conf/ unchanged since params.yaml was composed"
        else:
            raise ConfigError(_stale_message(params, fresh))
    _record(root / PROVENANCE_FILE, current)
    with atomic_outputs() as out:
        out.write_text(root / CHECKED_FILE, "params.yaml checked against conf/\n")
    return reason


def _record(path: Path, fingerprint: str) -> None:
    if _read_provenance(path).get("conf_sha256") != fingerprint:
        with atomic_outputs() as out:
            out.write_json(path, {"conf_sha256": fingerprint})


def _read_provenance(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _plain(cfg: DictConfig) -> dict[str, Any]:
    return json.loads(json.dumps(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)))


def _stale_message(params: dict[str, Any], fresh: dict[str, Any]) -> str:
    keys = sorted(_differing_keys(params, fresh))
    shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
    return (
        f"{PARAMS_FILE} is stale: conf/ changed since it was composed, and they differ at "
        f"{shown}. Run `assay compose` to rewrite {PARAMS_FILE} from conf/ (add overrides to "
        "keep them, e.g. `assay compose model.lr=0.003`), then `dvc repro`; or use "
        "`dvc exp run`, which composes conf/ itself."
    )


def _differing_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            found += _differing_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return found
    return [] if a == b else [prefix.rstrip(".")]
