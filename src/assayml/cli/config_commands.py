"""Subcommands that compose ``conf/`` with Hydra and run stages: prepare, features, train,
evaluate and run. Hydra handles the overrides, ``-m`` sweeps, ``--cfg`` and ``--help``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from assayml.errors import EXIT_BAD_INPUT, EXIT_OK

CONF_DIR = "conf"
CONFIG_NAME = "config"


def run_config_command(command: str, args: list[str]) -> int:
    """Run ``command`` (a stage name, or ``run`` for all) under Hydra; returns the exit code."""
    conf = Path.cwd() / CONF_DIR
    if not (conf / f"{CONFIG_NAME}.yaml").is_file():
        print(
            f"assay {command}: error: {conf}/{CONFIG_NAME}.yaml not found; run assay from "
            "a project root (the folder holding conf/)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    import hydra

    from assayml.cli.jobs import run_job
    from assayml.config.overrides import open_mapping_overrides
    from assayml.config.store import register_configs
    from assayml.experiments.sweep_summary import LAST_SWEEP, SWEEP_PROBLEMS, sweep_exit_code

    register_configs()
    LAST_SWEEP.clear()
    SWEEP_PROBLEMS.clear()
    state: dict[str, Any] = {"started": False, "codes": []}

    @hydra.main(config_path=str(conf), config_name=CONFIG_NAME, version_base="1.3")
    def task(cfg) -> dict:
        state["started"] = True
        outcome = run_job(command, cfg)
        state["codes"].append(outcome["code"])
        return outcome

    saved_argv = sys.argv
    sys.argv = [f"assay {command}", *open_mapping_overrides(args), *hydra_verbosity()]
    try:
        task()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else EXIT_OK
        # Hydra exits 1 for errors it finds before any job runs: bad overrides, unknown
        # options, keys or types. Those are config errors.
        return EXIT_BAD_INPUT if code == 1 and not state["started"] else code
    finally:
        sys.argv = saved_argv
    if "codes" in LAST_SWEEP or SWEEP_PROBLEMS:
        # A sweep: jobs may have run in other processes; the summary has their codes.
        return sweep_exit_code(LAST_SWEEP.get("codes", []))
    return max(state["codes"], default=EXIT_OK)


def hydra_verbosity() -> list[str]:
    """Hydra's own log lines follow --quiet / --verbose (the log file keeps everything)."""
    from assayml.verbosity import quiet, verbose

    if quiet():
        return [
            "++hydra.hydra_logging.root.level=WARNING",
            "++hydra.job_logging.handlers.console.level=WARNING",
        ]
    return ["hydra.verbose=assayml"] if verbose() else []
