"""The shadow variant (``assay serve --shadow REF``): a copy of every answered request, its
prediction captured beside the live one and never returned.

Off the response path: the endpoint hands the request's rows (and the capture ids the live
answer got) to a bounded queue without waiting and answers at once; one thread takes what
is queued, up to ``SHADOW_ROWS`` rows at a time, and predicts it with the shadow's own copy
of its model. A full queue drops the copy (counted in ``assay_shadow_dropped_total``), an
error in the shadow (its schema refusing a row, its model raising) is counted in
``assay_shadow_errors_total`` and logged, and nothing of it reaches the client. The shadow's
records go to ``<capture>/shadow/``, each under the id of the live record it sits beside
(``shadow: true``, ``variant``: the shadow's name); a row the live capture did not sample
is not captured for the shadow either, so the two always pair up. The shadow thread holds
the GIL only while Python runs; a slow shadow model slows the live one by the CPU it takes,
not by waiting on it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from assayml.serve.capture import CaptureWriter
from assayml.serve.fleet import Variant
from assayml.serve.metrics import ServeMetrics

log = logging.getLogger("assayml.serve")
SHADOW_QUEUE = 1_000  # requests waiting for the shadow; more are dropped (counted)
SHADOW_ROWS = 64  # rows per shadow pass
CLOSE_S = 10.0  # on shutdown, how long the queued shadow work may take to finish

# answers requests (lists of rows) with the shadow's model: server.answer_requests
Answer = Callable[[Any, list[list[dict]]], list]
_STOP = object()


class ShadowRunner:
    def __init__(
        self,
        variant: Variant,
        answer: Answer,
        metrics: ServeMetrics,
        capture: CaptureWriter | None = None,
    ) -> None:
        self.variant, self.answer, self.metrics, self.capture = variant, answer, metrics, capture
        self.queue: queue.Queue = queue.Queue(SHADOW_QUEUE)
        self._thread = threading.Thread(target=self._run, name="assay-shadow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, rows: list[dict], ids: list[str | None]) -> None:
        """Queue a copy of an answered request (never blocks)."""
        try:
            self.queue.put_nowait((rows, ids))
        except queue.Full:
            self.metrics.shadow_dropped.labels(self.variant.name).inc()

    def close(self, timeout: float = CLOSE_S) -> None:
        """Finish what is queued (up to ``timeout`` seconds), then flush the capture."""
        with contextlib.suppress(queue.Full):  # stuck: the thread is a daemon
            self.queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        if self.capture is not None:
            self.capture.close()

    def _run(self) -> None:
        while True:
            jobs = [self.queue.get()]
            rows = len(jobs[0][0]) if jobs[0] is not _STOP else 0
            while jobs[-1] is not _STOP and rows < SHADOW_ROWS:
                try:
                    jobs.append(self.queue.get_nowait())
                except queue.Empty:
                    break
                rows += len(jobs[-1][0]) if jobs[-1] is not _STOP else 0
            work = [job for job in jobs if job is not _STOP]
            if work:
                self._predict(work)
            if jobs[-1] is _STOP:
                return

    def _predict(self, jobs: list[tuple[list[dict], list]]) -> None:
        name = self.variant.name
        serving = self.variant.serving  # a swap takes effect from the next pass
        results: list[Any] = []
        for rows, _ in jobs:  # the shadow's own schema may refuse what the live one took
            try:
                results.append(_revalidated(serving.row, rows))
            except Exception as err:
                results.append(err)
        valid = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
        try:
            answers = self.answer(serving.deployed, [results[i] for i in valid])
        except Exception as err:
            answers = [(err, None)] * len(valid)
        for i, (result, _) in zip(valid, answers, strict=True):
            results[i] = result
        for (rows, ids), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                self.metrics.shadow_errors.labels(name).inc()
                log.warning("assay serve: shadow %s failed: %s", name, _short(result))
                continue
            self.metrics.shadow_rows.labels(name).inc(len(result))
            self._capture(serving, rows, ids, result)

    def _capture(self, serving, rows: list[dict], ids: list, records: list[dict]) -> None:
        kept = [i for i, record_id in enumerate(ids) if record_id is not None]
        if self.capture is None or not kept:
            return
        outputs = [{k: v for k, v in records[i].items() if k != "capture_id"} for i in kept]
        self.capture.capture(
            [rows[i] for i in kept],
            outputs,
            serving.deployed.lineage_id,
            extra={"variant": self.variant.name, "shadow": True},
            ids=[ids[i] for i in kept],
        )


def _revalidated(row_model, rows: list[dict]) -> list[dict]:
    """The rows as the shadow's own schema reads them (it may differ from the live one)."""
    return [row_model.model_validate(r).model_dump() for r in rows]


def _short(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())[:300]
