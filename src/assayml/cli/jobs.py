"""One job: validate the config, run stages, report. Errors become exit codes, never
escaping tracebacks, so that one failed job of a sweep does not stop the others."""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from assayml.errors import EXIT_INTERNAL, EXIT_OK, AssayError

NOISY_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.pytorch.accelerators.cuda",
    "lightning.fabric.utilities.distributed",
)


def run_job(command: str, cfg) -> dict[str, Any]:
    """The body of a Hydra job: outputs under the job directory in a sweep (see
    experiments/sweep_jobs.py), the config as it ran saved over Hydra's copy, a run record
    (``run.json``) in Hydra's output directory, and an outcome for the sweeper."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from assayml.config.load import to_typed
    from assayml.experiments.run_record import run_metrics, write_run_record
    from assayml.experiments.sweep_jobs import (
        copy_upstream_records,
        job_stages,
        place_job,
        save_config,
    )
    from assayml.records import utc_now
    from assayml.verbosity import detail

    hydra_cfg = HydraConfig.get()
    started = utc_now()
    sweep = hydra_cfg.mode is RunMode.MULTIRUN
    stages = job_stages(command, cfg, sweep)
    placed = None
    if sweep:
        # The job folder for what the job writes, the workspace for what it reads from
        # upstream stages it does not run. Set here, on the composed config, rather than
        # with ${hydra:...} in conf/, which would break DVC's composition of params.yaml.
        placed = place_job(cfg, os.path.relpath(hydra_cfg.runtime.output_dir), stages)
    if hydra_cfg.output_subdir is not None:
        save_config(cfg, Path(hydra_cfg.runtime.output_dir, hydra_cfg.output_subdir, "config.yaml"))
    try:
        typed = to_typed(cfg)
        if placed and placed["read"]:
            copy_upstream_records(placed, typed.paths.records_dir)
            detail(
                f"  reads {', '.join(placed['upstream'])} from "
                + ", ".join(placed["read"].values())
            )
    except AssayError as err:
        from assayml.verbosity import verbose

        if verbose():
            traceback.print_exc()
        print(f"assay {command}: error: {err}", file=sys.stderr)
        outcome = {
            "code": err.exit_code,
            "error": str(err),
            "records": {},
            "config": None,
            "pruned": False,
        }
    else:
        outcome = run_stages_safely(command, typed, stages)
    run_dir = Path(hydra_cfg.runtime.output_dir)
    write_run_record(run_dir, command, list(hydra_cfg.overrides.task), outcome, started)
    # What crosses back to the sweeper (a process boundary under joblib): plain values.
    return {
        "code": outcome["code"],
        "error": outcome["error"],
        "run_dir": str(run_dir),
        "metrics": run_metrics(outcome["records"]),
        "pruned": outcome.get("pruned", False),
    }


def run_stages_safely(command: str, cfg, stages: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Run the command's stages in order on the typed config (``stages``, or those
    ``run.stages`` names outside a sweep); print a line per stage.

    Returns:
        ``{"code", "error", "records", "config"}``: the exit code (0, or the failing
        error's), its message, the records of the stages that finished, and the config.
    """
    import time

    from assayml.cli.summary import print_record
    from assayml.experiments.sweep_jobs import job_stages
    from assayml.stages.table import get_stage
    from assayml.verbosity import detail, quiet, verbose

    quiet_libraries()
    records: dict[str, Any] = {}
    outcome: dict[str, Any] = {
        "code": EXIT_OK,
        "error": None,
        "records": records,
        "config": cfg,
        "pruned": False,
    }
    try:
        for name in stages if stages is not None else job_stages(command, cfg, sweep=False):
            started = time.perf_counter()
            records[name] = get_stage(name).run(cfg)
            if not quiet():
                print_record(records[name])
            detail(f"  {name}: {time.perf_counter() - started:.2f} s; wrote")
            for path, digest in records[name].outputs.items():
                detail(f"    {path}  md5 {digest}")
    except AssayError as err:
        if verbose():
            traceback.print_exc()
        print(f"assay {command}: error: {err}", file=sys.stderr)
        outcome.update(code=err.exit_code, error=str(err))
    except KeyboardInterrupt:
        print(f"assay {command}: interrupted; earlier outputs are intact", file=sys.stderr)
        outcome.update(code=EXIT_INTERNAL, error="interrupted")
    except Exception as err:
        from assayml.cli.pipes import EXIT_READER_GONE, silence_stdout, stdout_reader_gone

        if isinstance(err, BrokenPipeError) and stdout_reader_gone():  # `assay run | head`
            silence_stdout()
            outcome.update(code=EXIT_READER_GONE, error="the reader of stdout went away")
            return outcome
        if type(err).__name__ == "TrialPruned":  # optuna's; not imported unless searching
            print(f"assay {command}: trial pruned: {err}", file=sys.stderr)
            outcome.update(pruned=True, error=f"pruned: {err}")
            return outcome
        traceback.print_exc()
        print(f"assay {command}: internal error (a bug: please report it)", file=sys.stderr)
        outcome.update(code=EXIT_INTERNAL, error=f"{type(err).__name__}: {err}")
    return outcome


def quiet_libraries() -> None:
    """Keep the terminal for our output: library banners and known-harmless warnings go
    (kept under --verbose)."""
    from assayml.verbosity import verbose

    if verbose():
        return
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r"You are providing multiple inputs for Lime.*")
    warnings.filterwarnings("ignore", message=r"Setting forward, backward hooks.*")
