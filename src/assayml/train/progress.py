"""Progress: a Rich bar on a terminal, one plain line per epoch in logs (CI, files, pipes).

Rich re-renders the whole bar on every update (~2 ms here), so the bar refreshes about
twenty times an epoch, not on every batch.
"""

from __future__ import annotations

import math
import sys
import time

from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

UPDATES_PER_EPOCH = 20


def build_progress(batches_per_epoch: int | None = None, stream=None) -> ProgressBar:
    """The progress callback for where output goes: ``stream`` (default stderr). The
    ``callbacks.progress_bar`` entry calls it without ``batches_per_epoch``: the bar then
    reads the count from the trainer."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return EpochLines(stream)
    if batches_per_epoch is None:
        return EpochRichBar()
    return RichProgressBar(refresh_rate=max(1, batches_per_epoch // UPDATES_PER_EPOCH))


class EpochRichBar(RichProgressBar):
    """Rich's bar, refreshed about ``UPDATES_PER_EPOCH`` times per training epoch."""

    @property
    def refresh_rate(self) -> int:
        try:
            batches = self.trainer.num_training_batches
        except Exception:  # no trainer attached yet: Lightning asks before fitting
            return 1
        if not math.isfinite(batches):
            return 1
        return max(1, int(batches) // UPDATES_PER_EPOCH)


class EpochLines(ProgressBar):
    """``epoch 3/30  train/loss 0.2141  val/loss 0.1873  val/acc 0.9412  (0.4 s)``.

    Lightning calls ordinary callbacks' ``on_train_epoch_end`` before the module logs the
    epoch's training loss, so each line is printed when the next epoch starts, or at the end.
    """

    def __init__(self, stream=None) -> None:
        super().__init__()
        self._stream = stream or sys.stderr
        self._enabled = True
        self._started = 0.0
        self._pending: int | None = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._flush(trainer)
        self._started = time.perf_counter()
        self._pending = trainer.current_epoch

    def on_train_end(self, trainer, pl_module) -> None:
        self._flush(trainer)

    def _flush(self, trainer) -> None:
        if self._pending is None or not self._enabled or trainer.global_rank != 0:
            return
        metrics = trainer.callback_metrics
        shown = "  ".join(f"{k} {float(v):.4f}" for k, v in sorted(metrics.items()))
        seconds = time.perf_counter() - self._started
        line = f"epoch {self._pending + 1}/{trainer.max_epochs}  {shown}  ({seconds:.1f} s)"
        print(line, file=self._stream, flush=True)
        self._pending = None
