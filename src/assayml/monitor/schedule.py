"""Executions on a cron schedule: APScheduler's CronTrigger says when the next one is due
(cron syntax, months, leap days, UTC); this loop sleeps until then and runs it. Not
APScheduler's BlockingScheduler: its jobs run in worker threads, and an execution's exit
code and a clean stop on SIGTERM between executions are simpler to keep in one thread."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime


def run_scheduled(
    execution: Callable[[], int], trigger, max_executions: int | None = None
) -> list[int]:
    """Run ``execution`` at each fire time of ``trigger`` until ``max_executions`` have run
    or SIGTERM/SIGINT arrives (an execution under way finishes first). Returns the exit
    codes; a fire time missed while an execution ran is skipped, not caught up."""
    stop = threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    codes: list[int] = []
    try:
        last = None
        while not stop.is_set() and (max_executions is None or len(codes) < max_executions):
            now = datetime.now(UTC)
            due = trigger.get_next_fire_time(last, now)
            if due is None:
                break
            if stop.wait(max((due - now).total_seconds(), 0)):
                break
            last = due
            codes.append(execution())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return codes
