"""A pipe whose reader went away (`assay runs | head`): not an error of ours.

Python ignores SIGPIPE, so a write to such a pipe raises BrokenPipeError wherever it
happens; the command then ends quietly with the status a shell gives a command killed by
SIGPIPE. Only when stdout itself is that pipe: a broken pipe or socket elsewhere (a
subprocess, a server) stays an error.
"""

from __future__ import annotations

import os
import select
import sys

EXIT_READER_GONE = 141  # 128 + SIGPIPE


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end has closed (poll reports an error on the
    writing end of a pipe with no reader)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no fileno (captured), or no poll
        return False


def silence_stdout() -> None:
    """stdout to /dev/null, so that Python's own flush at exit does not fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
