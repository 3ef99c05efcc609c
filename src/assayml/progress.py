"""Progress of long stages: a Rich bar on a terminal, plain lines in logs (CI, files,
pipes), nothing under ``--quiet``. Training has its own (``train/progress.py``, a Lightning
callback); this is for the other stages' named steps and long loops."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from assayml.verbosity import quiet

T = TypeVar("T")
LINE_EVERY_S = 10.0  # plain lines for a loop: at most one per this many seconds, and at the end


class Steps:
    """``with Steps("explain", 5) as steps: steps.next("local attributions") ...``"""

    def __init__(self, task: str, total: int, stream=None) -> None:
        self.task, self.total = task, total
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.perf_counter()
        self._bar = None

    def __enter__(self) -> Steps:
        if not quiet() and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._bar.start()
            self._id = self._bar.add_task(self.task, total=self.total)
        return self

    def next(self, label: str) -> None:
        """Step ``label`` starts (the previous one is done)."""
        if self.done and self._bar is not None:
            self._bar.advance(self._id)
        self.done += 1
        if quiet():
            return
        if self._bar is not None:
            self._bar.update(self._id, description=f"{self.task}: {label}")
        else:
            elapsed = time.perf_counter() - self.started
            print(
                f"  {self.task} [+{elapsed:.1f} s] {self.done}/{self.total} {label}",
                file=self.stream,
                flush=True,
            )

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def track(items: Iterable[T], task: str, total: int, stream=None) -> Iterator[T]:
    """``items`` with progress: a bar on a terminal, a line every ``LINE_EVERY_S`` seconds
    and one at the end in logs."""
    stream = stream or sys.stderr
    if quiet():
        yield from items
        return
    if stream.isatty():
        from rich.console import Console
        from rich.progress import track as rich_track

        yield from rich_track(
            items, description=task, total=total, console=Console(file=stream), transient=True
        )
        return
    started = last = time.perf_counter()
    count = 0
    for count, item in enumerate(items, start=1):
        yield item
        now = time.perf_counter()
        if now - last >= LINE_EVERY_S or count == total:
            print(f"  {task}: {count}/{total} ({now - started:.1f} s)", file=stream, flush=True)
            last = now
