"""How much the ``assay`` commands say: ``--quiet`` (warnings and errors only; results are
in the files and the exit code), normal, or ``--verbose`` (library messages, timings,
tracebacks). Kept in the environment (``ASSAY_VERBOSITY``) so that the processes a command
starts (DDP ranks, joblib and submitit sweep jobs) say as much as it does."""

from __future__ import annotations

import os
import sys

ENV = "ASSAY_VERBOSITY"
QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"
FLAGS = {"-q": QUIET, "--quiet": QUIET, "-v": VERBOSE, "--verbose": VERBOSE}


def take_flags(args: list[str]) -> list[str]:
    """Remove ``-q/--quiet/-v/--verbose`` from ``args`` (wherever they stand before a
    ``--``), record the level and return the rest; both given: the last one wins."""
    rest, end = [], args.index("--") if "--" in args else len(args)
    for index, arg in enumerate(args):
        if index < end and arg in FLAGS:
            os.environ[ENV] = FLAGS[arg]
        else:
            rest.append(arg)
    return rest


def level() -> str:
    value = os.environ.get(ENV, NORMAL)
    return value if value in (QUIET, NORMAL, VERBOSE) else NORMAL


def quiet() -> bool:
    return level() == QUIET


def verbose() -> bool:
    return level() == VERBOSE


def say(*parts: object) -> None:
    """An informational line on stdout (a summary, a path written); not under --quiet."""
    if not quiet():
        print(*parts, flush=True)


def detail(*parts: object) -> None:
    """A line for --verbose only, on stderr (timings, hashes, where things were read)."""
    if verbose():
        print(*parts, file=sys.stderr, flush=True)
