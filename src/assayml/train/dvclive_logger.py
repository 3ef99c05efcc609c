"""DVCLive's Lightning logger without its per-call stack inspection.

DVCLive decides whether a ``log_metrics`` call should write its files ("sync") by asking
whether Lightning called it from one of three functions, and asks with ``inspect.stack()``,
which reads the source lines of every frame and scans ``sys.modules`` for each: with
torch, Lightning and Captum loaded that took 0.3-0.8 s a call here, three calls an epoch,
most of a small model's training time. This logger asks the same question by walking the
frames' code names, which costs microseconds; everything else is DVCLive's own.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from dvclive.lightning import DVCLiveLogger
from lightning.pytorch.utilities import rank_zero_only

# The Lightning functions whose log_metrics calls DVCLive syncs on (dvclive/lightning.py).
SYNC_CALLERS = frozenset(
    ("update_train_step_metrics", "update_train_epoch_metrics", "log_eval_end_metrics")
)


def called_from(names: frozenset[str]) -> bool:
    """Whether any caller up the stack is a function with one of ``names``."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if frame.f_code.co_name in names:
                return True
            frame = frame.f_back
        return False
    finally:
        del frame  # no reference cycle through the frame


class FastDVCLiveLogger(DVCLiveLogger):
    """:class:`dvclive.lightning.DVCLiveLogger` with the sync decision made by frame names."""

    @rank_zero_only
    def log_metrics(
        self,
        metrics: Mapping[str, int | float | str],
        step: int | None = None,
        sync: bool | None = False,
    ) -> None:
        if not sync and called_from(SYNC_CALLERS):
            sync = True
        # DVCLiveLogger.log_metrics would make the same call after its stack inspection.
        super(DVCLiveLogger, self).log_metrics(metrics, step, sync)
