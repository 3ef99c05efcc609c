"""``assay``: dispatch to a subcommand. Importing this module is cheap (no torch, no Hydra),
so ``assay --help`` answers at once; each subcommand imports what it needs."""

from __future__ import annotations

import importlib
import sys

from assayml import __version__
from assayml.stages.table import STAGES

TOOL_HELP = {
    "compose": (
        "assayml.cli.compose_command",
        "run_compose",
        "write params.yaml from conf/ (what dvc repro reads); --check",
    ),
    "runs": (
        "assayml.cli.runs_command",
        "run_runs",
        "list runs and sweep jobs; `runs compare A B`: what differs",
    ),
    "registry": (
        "assayml.cli.registry_command",
        "run_registry",
        "register / list / show / approve / reject / promote / archive / compare",
    ),
    "lineage": (
        "assayml.cli.lineage_command",
        "run_lineage",
        "the chain from a model back to raw data, code and config (--json, --dot)",
    ),
    "audit": (
        "assayml.cli.audit_command",
        "run_audit",
        "verify the audit trail (chain, MACs, committed head); show; init (key); repair",
    ),
    "predict": (
        "assayml.cli.serve_commands",
        "run_predict",
        "batch prediction with the saved transform; --capture; rejects invalid rows",
    ),
    "serve": (
        "assayml.cli.serve_commands",
        "run_serve",
        "HTTP endpoint (POST /predict, GET /health, /metadata) with data capture",
    ),
    "monitor": (
        "assayml.cli.monitor_command",
        "run_monitor",
        "new rows or captured traffic against the baseline; exit 3 on violations",
    ),
    "report": (
        "assayml.cli.report_command",
        "run_report",
        "one self-contained HTML page for a run, registry version or the workspace",
    ),
    "reproduce": (
        "assayml.cli.reproduce_command",
        "run_reproduce",
        "rebuild a registered model from its record and compare",
    ),
    "forget": (
        "assayml.cli.forget_command",
        "run_forget",
        "delete a data subject's rows: new data version, every copy found, audited",
    ),
    "retrain": (
        "assayml.cli.retrain_command",
        "run_retrain",
        "retrain, register as challenger, compare on labelled traffic, promote if better",
    ),
    "completion": (
        "assayml.cli.completion",
        "run_completion",
        'shell completion: eval "$(assay completion bash)"',
    ),
}
TOOLS = {name: (module, function) for name, (module, function, _) in TOOL_HELP.items()}
RUN_SUMMARY = "the pipeline stages above in order, in one process (+ cv if cv.folds >= 2)"

USAGE = """\
usage: assay <command> [hydra overrides ...] [-m] [--cfg job]

A declarative, reproducible ML lifecycle: Hydra configs (conf/), DVC-versioned data,
deterministic Lightning training. Run from a project root (the folder holding conf/).

commands (each takes Hydra overrides such as `model=cnn data=digits seed=3`):
{commands}

options:
  -h, --help      this message; `assay <command> --help` shows the config groups
  --version       print the version
  -q, --quiet     warnings and errors only (no progress, no summaries); anywhere
  -v, --verbose   library messages, timings, hashes and tracebacks; anywhere
  -m, --multirun  sweep over comma-separated override values (after the command)
  --cfg job       print the composed config instead of running (after the command)
  --params FILE   read an already composed config (params.yaml) instead of conf/:
                  how DVC's stages run (`assay train --params params.yaml`)

exit codes: 0 ok, 1 internal error, 2 bad input or config, 3 a check found problems
"""


def usage() -> str:
    rows = [(s.name, s.summary) for s in STAGES] + [("run", RUN_SUMMARY)]
    rows += [(name, summary) for name, (_, _, summary) in TOOL_HELP.items()]
    return USAGE.format(commands="\n".join(f"  {name:<10}  {text}" for name, text in rows))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``assay`` console script; returns the exit code."""
    from assayml.verbosity import take_flags

    args = take_flags(list(sys.argv[1:] if argv is None else argv))
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] == "--version":
        print(f"assayml {__version__}")
        return 0
    if {"-sc", "--shell-completion"} & set(args):  # Hydra's flag, answered for all commands
        from assayml.cli.completion import run_hydra_flag

        return run_hydra_flag(args)
    command, rest = args[0], args[1:]
    import_project_code()
    if command in TOOLS:
        from assayml.cli.audit_command import refuse_unauditable

        if (code := refuse_unauditable(command, rest)) is not None:
            return code  # its audit entry could not be added: stop before it writes
        module, function = TOOLS[command]
        return getattr(importlib.import_module(module), function)(rest)
    if (command == "run" or command in {s.name for s in STAGES}) and "--params" in rest:
        from assayml.cli.params_mode import run_from_params

        return run_from_params(command, rest)
    if command == "run" or command in {s.name for s in STAGES}:
        from assayml.cli.config_commands import run_config_command

        return run_config_command(command, rest)
    print(f"assay: unknown command '{command}'\n\n{usage()}", file=sys.stderr)
    return 2


def import_project_code(root: str | None = None) -> None:
    """Make the project root (the folder holding ``conf/``) importable, so that a
    ``_target_`` may name the user's own code there (``mycode.nets.MyNet``) without
    PYTHONPATH; the environment carries it to the processes a command starts (DDP ranks,
    joblib sweep workers)."""
    import os

    root = os.path.abspath(root or os.getcwd())
    if not os.path.isdir(os.path.join(root, "conf")):
        return
    # Appended, not prepended: a project file named like a library (lightning.py) must not
    # shadow it; the project's own package names are the user's to choose.
    if root not in sys.path:
        sys.path.append(root)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, root])


# A command imports torch, Lightning, pandas and scikit-learn: some 600,000 objects that
# live as long as the process. With CPython's default thresholds the cyclic collector walks
# all of them in a full collection whenever the tracked heap has grown by a quarter: nine
# times in a default `assay run`, 2.7 s of its 20 s on 2 cores (gc.callbacks, 2026-12-02).
# Young collections, which find nearly all cyclic garbage, run as before; a full one waits
# for 1,000 middle-generation collections instead of 10, so a long `assay serve` still
# gets them.
FULL_COLLECTION_AFTER = 1000


def collect_less() -> None:
    """Make full garbage collections rare in this process (see FULL_COLLECTION_AFTER)."""
    import gc

    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


def entry() -> None:
    from assayml.cli.pipes import EXIT_READER_GONE, silence_stdout, stdout_reader_gone

    collect_less()
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise  # a broken pipe or socket of something else: an error
        silence_stdout()
        code = EXIT_READER_GONE
    sys.exit(code)


if __name__ == "__main__":
    entry()
