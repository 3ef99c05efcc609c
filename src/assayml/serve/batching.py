"""Adaptive micro-batching: concurrent requests share one transform and one forward pass.

Most of a small request's time goes to fixed costs per call (a pandas table, the feature
transform column by column, the forward pass, the JSON records), not to its rows: one row
costs nearly what 64 do. So requests that arrive together are merged, up to ``max_batch``
rows, into one call, and each gets back exactly its own rows' answers.

One asyncio task in the server's event loop forms the batches and runs them one at a
time; requests that arrive while a pass runs queue up and form the next batch, so batches
grow with the load by themselves. A batch also waits, up to ``max_wait_ms`` from its first
request's arrival, while a connection that sent a request in the last half second has none in
it: over HTTP/1.1 a connection has one request open at a time, so once every active
connection is in the batch nobody else can come, and it runs at once. A lone client's
request therefore never waits, and 32 clients share one pass instead of two or three. A
request with more than ``max_batch`` rows runs alone. ``max_batch=1`` answers every
request alone.

A pass of up to ``INLINE_ROWS`` rows runs on the event loop itself: the GIL lets only one
thread run Python at a time anyway, and handing small passes to a thread cost about a fifth of
the throughput at 32 clients (benchmarks/serve.py: threads waiting for the GIL). A larger pass
runs in a model thread, so the loop keeps answering ``/health`` and taking requests. Either
way one pass runs at a time, which also keeps the model's own state safe: MC dropout
switches its dropout layers on and seeds the generator for the duration of a pass.

Hand-written rather than taken from a library: the serving libraries that batch (Ray
Serve's ``@serve.batch``, BentoML, Triton) each bring their own server, not a part that
fits in a FastAPI app.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 64  # rows merged from concurrent requests into one pass; 1: no merging
MAX_WAIT_MS = 5.0  # longest a request waits for other connections' requests to join it
INLINE_ROWS = 256  # passes up to this many rows run on the event loop (a few ms)
ACTIVE_S = 0.5  # a connection that sent a request this recently (s) is waited for


@dataclass(frozen=True)
class BatchSettings:
    """How requests are merged (see ``assay serve --help``)."""

    max_batch: int = MAX_BATCH  # rows per merged pass, >= 1; `--max-batch`
    max_wait_ms: float = MAX_WAIT_MS  # >= 0; `--max-wait-ms`

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {self.max_batch}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must not be negative, got {self.max_wait_ms}")


@dataclass(frozen=True)
class Shared:
    """The pass that answered a request: how many rows and requests it held."""

    rows: int
    requests: int
    retried: bool = False  # answered alone after a shared pass was refused


@dataclass
class BatchStats:
    batches: int = 0  # batches formed
    requests: int = 0  # requests answered
    largest_rows: int = 0  # rows in the largest pass holding more than one request
    largest_requests: int = 0  # requests in the largest pass
    retried_alone: int = 0  # requests answered alone after their shared pass was refused
    waits: int = 0  # times a batch waited for another connection's request

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# answers the requests given (each a list of rows): per request, its result or its
# exception, and the pass that answered it; runs on the event loop, or for a large batch
# in the model thread
Process = Callable[[list[list[dict]]], list[tuple[Any, Shared]]]


@dataclass
class _Job:
    rows: list[dict]
    source: Hashable  # the connection: (client host, port)
    arrived: float  # loop time
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Merges concurrent calls of :meth:`submit` into calls of ``process``."""

    def __init__(self, process: Process, settings: BatchSettings) -> None:
        self.process, self.settings = process, settings
        self.stats = BatchStats()
        self._jobs: deque[_Job] = deque()
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="assay-model")
        self._seen: dict[Hashable, float] = {}  # connection -> when it last sent a request

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop forming batches (uvicorn calls this once no request is open)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while self._jobs:
            self._jobs.popleft().future.cancel()
        self._executor.shutdown(wait=True)

    async def submit(self, rows: list[dict], source: Hashable = None) -> tuple[Any, Shared]:
        """The result for ``rows`` (raised if it is an exception) and the pass shared;
        ``source`` names the connection the request came on."""
        loop = asyncio.get_running_loop()
        if self._task is None:  # an app run without its lifespan (a test client)
            self.start()
        job = _Job(rows, source, loop.time(), loop.create_future())
        self._seen[source] = job.arrived
        self._jobs.append(job)
        self._arrived.set()
        result, shared = await job.future
        if isinstance(result, BaseException):
            raise result
        return result, shared

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch(loop)
            requests = [job.rows for job in batch]
            try:
                if sum(map(len, requests)) <= INLINE_ROWS:
                    answers = self.process(requests)
                else:
                    answers = await loop.run_in_executor(self._executor, self.process, requests)
            except Exception as err:  # each request of the pass gets it
                answers = [(err, Shared(len(job.rows), 1)) for job in batch]
            self._count(batch, answers)
            for job, answer in zip(batch, answers, strict=True):
                if not job.future.done():  # done: the client went away (cancelled)
                    job.future.set_result(answer)

    async def _next_batch(self, loop: asyncio.AbstractEventLoop) -> list[_Job]:
        while not self._jobs:
            self._arrived.clear()
            await self._arrived.wait()
        first = self._jobs.popleft()
        batch, rows = [first], len(first.rows)
        limit, deadline = self.settings.max_batch, first.arrived + self.settings.max_wait_ms / 1000
        active = self._active(loop.time())
        while rows < limit:
            if not self._jobs:
                remaining = deadline - loop.time()
                if remaining <= 0 or len({job.source for job in batch}) >= active:
                    break
                self._arrived.clear()
                self.stats.waits += 1
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
                continue
            if rows + len(self._jobs[0].rows) > limit:
                break  # it opens the next batch
            job = self._jobs.popleft()
            batch.append(job)
            rows += len(job.rows)
        return batch

    def _active(self, now: float) -> int:
        """Connections that sent a request in the last ``ACTIVE_S`` seconds."""
        for source in [k for k, seen in self._seen.items() if now - seen > ACTIVE_S]:
            del self._seen[source]
        return len(self._seen)

    def _count(self, batch: Sequence[_Job], answers: list[tuple[Any, Shared]]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.requests += len(batch)
        for _, shared in answers:
            if shared.requests > 1:
                stats.largest_rows = max(stats.largest_rows, shared.rows)
            stats.largest_requests = max(stats.largest_requests, shared.requests)
            stats.retried_alone += shared.retried
