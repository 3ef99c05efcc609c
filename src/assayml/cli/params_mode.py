"""Run stages on an already composed config (``--params params.yaml``): how DVC runs them.

DVC's Hydra integration writes params.yaml; a stage run by DVC reads it and must not compose
conf/ itself, or ``dvc repro`` and ``dvc exp run`` would disagree about the config.
"""

from __future__ import annotations

import sys

from assayml.errors import EXIT_BAD_INPUT

USAGE = "usage: assay <stage> --params params.yaml   (no overrides: edit conf/, then compose)"


def run_from_params(command: str, args: list[str], stages: tuple[str, ...] | None = None) -> int:
    """Run ``command``'s stages (or ``stages``) on ``args``' ``--params FILE``."""
    from assayml.cli.jobs import run_stages_safely
    from assayml.config.load import load_params, to_typed
    from assayml.errors import AssayError

    if len(args) != 2 or args[0] != "--params":
        print(f"assay {command}: error: {USAGE}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        cfg = to_typed(load_params(args[1]))
    except AssayError as err:
        print(f"assay {command}: error: {err}", file=sys.stderr)
        return err.exit_code
    return run_stages_safely(command, cfg, stages)["code"]
