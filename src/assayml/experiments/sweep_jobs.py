"""Where a job reads and writes, which stages it runs, and the config it saves.

A sweep job writes under its own folder (``hydra.sweep.dir/<n>``) the outputs of the
stages it runs, and of the stages downstream of them; the outputs of upstream stages that
it does not run (the prepared data and features of ``assay train -m``, the model of
``assay evaluate -m``) are read where the workspace has them (the configured paths). The
job's config says which is which: its ``paths.*`` hold the resolved folders, and it is
saved so (``.hydra/config.yaml``), so that the saved config is the one that ran.

Sweeps and searches of ``assay run`` run by default only the stages their objective needs
(``run.stages``); the stages of ``run.after_sweep`` (explain, baseline) then run once, for
the best job, in its folder (:func:`finish_best_job`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from assayml.records import run_facts_path
from assayml.stages.table import STAGE_NAMES, STAGES

# The paths.* folders each stage writes, in pipeline order (records_dir: every stage).
WRITES: dict[str, tuple[str, ...]] = {
    "prepare": ("prepared_dir",),
    "features": ("features_dir",),
    "train": ("models_dir", "checkpoints_dir"),
    "evaluate": ("metrics_dir", "plots_dir"),
    "explain": ("reports_dir",),
    "baseline": ("monitoring_dir",),
    "cv": ("metrics_dir", "checkpoints_dir"),
}
ORDER = tuple(stage.name for stage in STAGES)
# What comes before what (cv reads the prepared data only, and fits its own features).
LINEAGE = ("prepare", "features", "cv", "train", "evaluate", "explain", "baseline")
OBJECTIVE_STAGES = ("prepare", "features", "train", "evaluate")  # what ranks a job


def job_stages(command: str, cfg: Any, sweep: bool) -> tuple[str, ...]:
    """The stages a job of ``command`` runs, from ``run.stages``: a stage's own command
    runs that stage; ``run`` runs them all (``auto`` outside a sweep, or ``all``), in a
    sweep or search the objective's (``auto``), or the listed ones in pipeline order.

    ``cfg`` is the composed or the typed config; an invalid setting counts as ``auto``
    here and fails validation when the config is typed."""
    if command != "run":
        return (command,)
    setting = _select(cfg, "run.stages", "auto")
    folds = _select(cfg, "cv.folds", 0)
    folds = folds if isinstance(folds, int) else 0
    if isinstance(setting, (list, tuple, ListConfig)):
        chosen = {str(name) for name in setting}
        return tuple(name for name in ORDER if name in chosen)
    if setting == "auto" and sweep:
        return OBJECTIVE_STAGES + (("cv",) if folds >= 2 else ())
    return STAGE_NAMES + (("cv",) if folds >= 2 else ())


def upstream_stages(stages: tuple[str, ...]) -> tuple[str, ...]:
    """The stages whose outputs a job of ``stages`` reads but does not make: those not
    run that come before one that is."""
    last = max((LINEAGE.index(name) for name in stages), default=-1)
    return tuple(name for name in LINEAGE[:last] if name not in stages and name != "cv")


def place_job(cfg: DictConfig, job_dir: str, stages: tuple[str, ...]) -> dict[str, Any]:
    """Point ``cfg.paths`` at the job folder for what the job writes and at the workspace
    for what it reads from upstream stages it does not run. Returns ``{"upstream": stage
    names, "read": {key: folder}, "workspace_records": folder}``."""
    workspace = {}  # where a single run would read and write: resolved before out_dir moves
    for key in [k for k in cfg.paths if k.endswith("_dir") and k != "root_dir"]:
        try:
            workspace[key] = os.path.normpath(str(cfg.paths[key]))
        except OmegaConfBaseException:  # typing the config reports it
            continue
    mine = {key for name in stages for key in WRITES.get(name, ())} | {"records_dir"}
    upstream = upstream_stages(stages)
    read = {
        key: workspace[key]
        for name in upstream
        for key in WRITES[name]
        if key not in mine and key in workspace
    }
    cfg.paths.out_dir = job_dir
    for key, folder in read.items():
        cfg.paths[key] = folder
    records = workspace.get("records_dir", "records")
    return {"upstream": upstream, "read": read, "workspace_records": records}


def copy_upstream_records(placed: dict[str, Any], records_dir: str | Path) -> list[Path]:
    """Copy the workspace's records of the upstream stages into the job's records folder:
    the job's stages read the identity of their inputs from there, and the job folder then
    tells what its inputs were. A record the workspace lacks is not copied (the stage that
    needs its outputs then says what to run)."""
    source, target = Path(placed["workspace_records"]), Path(records_dir)
    copied = []
    for name in placed["upstream"]:
        record = source / f"{name}.json"
        if record.is_file() and source.resolve() != target.resolve():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(record, target / record.name)
            copied.append(target / record.name)
            _copy_run_facts(record, source, target)
    return copied


def _copy_run_facts(record: Path, source: Path, target: Path) -> None:
    """The volatile facts of the run that made ``record`` (times, git), where there are any,
    so that the job folder's lineage shows them too."""
    try:
        doc = json.loads(record.read_text(encoding="utf-8"))
    except ValueError:
        return
    facts = run_facts_path(source, doc)
    if isinstance(doc, dict) and facts.is_file():
        copy = run_facts_path(target, doc)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(facts, copy)


def save_config(cfg: DictConfig, saved: Path) -> None:
    """Rewrite Hydra's saved copy of the job's config (``.hydra/config.yaml``, written
    before the job started) as the job ran it: paths placed, interpolations resolved. An
    interpolation that does not resolve leaves Hydra's copy (typing the config reports it)."""
    if not saved.parent.is_dir():
        return  # hydra.output_subdir=null: nothing saved
    try:
        text = OmegaConf.to_yaml(cfg, resolve=True)
    except OmegaConfBaseException:
        return
    temp = saved.with_name(f".{saved.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, saved)


def _select(cfg: Any, key: str, default: Any) -> Any:
    if isinstance(cfg, DictConfig):
        try:
            return OmegaConf.select(cfg, key, default=default)
        except OmegaConfBaseException:  # does not resolve: typing the config reports it
            return default
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part, None)
    return default if value is None else value


def finish_best_job(sweep_dir: Path, best: dict[str, Any]) -> int | None:
    """Run ``run.after_sweep`` (explain, baseline) once for the best job of a sweep of
    ``assay run``, in its folder, with the config it saved; skip the stages it already ran.
    Records what ran in the job's ``run.json``. Returns the exit code, or None when
    nothing ran."""
    from assayml.cli.jobs import run_stages_safely
    from assayml.config.load import load_params, to_typed
    from assayml.errors import AssayError
    from assayml.experiments.runs import RUN_FILE
    from assayml.utils.io import write_json_atomic
    from assayml.verbosity import say

    job_dir = sweep_dir / str(best["job"])
    run = json.loads((job_dir / RUN_FILE).read_text())
    if run["command"] != "run" or run["status"] != "ok":
        return None
    saved = job_dir / ".hydra" / "config.yaml"
    try:
        cfg = to_typed(load_params(saved) if saved.is_file() else OmegaConf.create(run["config"]))
    except AssayError as err:
        say(f"best job {best['job']}: cannot read its config: {err}")
        return err.exit_code
    stages = tuple(name for name in ORDER if name in cfg.run.after_sweep)
    stages = tuple(name for name in stages if name not in run["stages"])
    if not stages:
        return None
    say(f"\nbest job {best['job']} ({job_dir}): {', '.join(stages)}")
    outcome = run_stages_safely("run", cfg, stages)
    run["stages"] += list(outcome["records"])
    run["after_sweep"] = {
        "stages": list(stages),
        "exit_code": outcome["code"],
        "error": outcome["error"],
    }
    write_json_atomic(job_dir / RUN_FILE, run)
    return outcome["code"]


__all__ = [
    "copy_upstream_records",
    "finish_best_job",
    "job_stages",
    "place_job",
    "save_config",
    "upstream_stages",
]
