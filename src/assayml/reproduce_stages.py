"""``python -m assayml.reproduce_stages PARAMS STAGE...``: the stages ``assay reproduce``
reruns, in one process, started by ``assayml.reproduce._rebuild`` in the worktree of the
recorded commit.

One process, not one per stage as DVC starts them, so the libraries load once instead of
four times (about 3 s each on 2 cores). Each stage seeds itself and reads only files the
previous ones wrote; what a stage leaves in the process (torch's deterministic-algorithms
and cuDNN switches, which Lightning sets for training, and the environment) is put back
before the next, so each starts as under ``dvc repro``. The rebuild's comparison with the
record checks the outcome every time.
"""

from __future__ import annotations

import os
import sys

from assayml.errors import EXIT_BAD_INPUT, EXIT_OK

USAGE = "usage: python -m assayml.reproduce_stages PARAMS STAGE..."


def main(argv: list[str]) -> int:
    """Run each named stage on the composed config ``argv[0]``; the first failure's exit
    code (its message names the stage), else 0."""
    from assayml.cli.main import collect_less, import_project_code
    from assayml.cli.params_mode import run_from_params
    from assayml.stages.table import STAGES

    known = {stage.name for stage in STAGES}
    if len(argv) < 2 or set(argv[1:]) - known:
        print(f"{USAGE}\n  stages: {', '.join(sorted(known))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    collect_less()
    import_project_code()  # a _target_ may name the project's own code, as in `assay`
    params, *stages = argv
    fresh = process_state()
    for stage in stages:
        code = run_from_params(f"reproduce: {stage}", ["--params", params], (stage,))
        if code != EXIT_OK:
            return code
        restore(fresh)
    return EXIT_OK


def process_state() -> dict:
    import torch

    return {
        "environ": dict(os.environ),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn": (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark),
    }


def restore(state: dict) -> None:
    import torch

    os.environ.clear()
    os.environ.update(state["environ"])
    torch.use_deterministic_algorithms(state["deterministic"], warn_only=state["warn_only"])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = state["cudnn"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
