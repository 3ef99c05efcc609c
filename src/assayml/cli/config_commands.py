"""Subcommands that compose ``conf/`` with Hydra and run stages: prepare, features, train,
evaluate and run. Hydra handles the overrides, ``-m`` sweeps, ``--cfg`` and ``--help``."""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from assayml.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, AssayError
from assayml.stages.table import STAGE_NAMES

CONF_DIR = "conf"
CONFIG_NAME = "config"
NOISY_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.pytorch.accelerators.cuda",
)


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

    from assayml.config.store import register_configs

    register_configs()
    stages = STAGE_NAMES if command == "run" else (command,)
    state: dict[str, Any] = {"started": False, "codes": []}

    @hydra.main(config_path=str(conf), config_name=CONFIG_NAME, version_base="1.3")
    def task(cfg) -> int:
        state["started"] = True
        code = execute(command, stages, cfg)
        state["codes"].append(code)
        return code

    saved_argv = sys.argv
    sys.argv = [f"assay {command}", f"hydra.job.name={command}", *args]
    try:
        task()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else EXIT_OK
        # Hydra exits 1 for errors it finds before any job runs: bad overrides, unknown
        # options, keys or types. Those are config errors.
        return EXIT_BAD_INPUT if code == 1 and not state["started"] else code
    finally:
        sys.argv = saved_argv
    return max(state["codes"], default=EXIT_OK)


def execute(command: str, stages: tuple[str, ...], cfg) -> int:
    """Validate the composed config and run the stages; print what they wrote."""
    from assayml.cli.summary import print_record
    from assayml.config.load import to_typed
    from assayml.stages.table import get_stage

    quiet_libraries()
    try:
        point_outputs_at_job_dir(cfg)
        typed = to_typed(cfg)
        for name in stages:
            print_record(get_stage(name).run(typed))
    except AssayError as err:
        print(f"assay {command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"assay {command}: interrupted; earlier outputs are intact", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception:
        traceback.print_exc()
        print(f"assay {command}: internal error (a bug: please report it)", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK


def point_outputs_at_job_dir(cfg) -> None:
    """In a sweep every job writes under its own directory, never the pipeline outputs.

    Set here, on the composed config, rather than with ``${hydra:...}`` in conf/, which would
    break DVC's composition of params.yaml."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode is RunMode.MULTIRUN:
        cfg.paths.out_dir = hydra_cfg.runtime.output_dir


def quiet_libraries() -> None:
    """Keep the terminal for our output: library banners and known-harmless warnings go."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
