"""The models one ``assay serve`` process serves: its live variants (weighted A/B), an
optional shadow, and the swap of a variant's model when its registry reference moves.

A :class:`Serving` is one loaded model with its request schema and its own micro-batcher;
it never changes. A :class:`Variant` points at its current ``Serving``; a swap builds the
new one off the request path (loading runs in a worker thread), starts its batcher, and then
replaces the pointer in one assignment on the event loop, so each request sees one model or
the other, never a mix. A request holds the ``Serving`` it started on until it is answered
(``open``); the old one's batcher is stopped only once no request holds it, so in-flight
requests finish on the model they started on and none is dropped.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from assayml.serve.batching import BatchSettings, MicroBatcher
from assayml.serve.deployed import Deployed
from assayml.serve.routing import Router
from assayml.serve.rows import request_model, row_model

log = logging.getLogger("assayml.serve")


@dataclass(frozen=True)
class Loader:
    """``resolve(ref)``: the (name, version) a registry reference names now, or None for a
    folder (never reloaded); ``load(ref)``: that model, loaded under the trust rules."""

    resolve: Callable[[str | None], tuple[str, int] | None]
    load: Callable[[str | None], Deployed]


# answers requests (lists of rows) for one deployed model: see server.answer_requests
Answer = Callable[[Deployed, str, list[list[dict]]], list]


@dataclass(eq=False)
class Serving:
    deployed: Deployed
    row: type[BaseModel]
    body: type[BaseModel]
    batcher: MicroBatcher | None  # None for a shadow (its runner thread predicts)
    open: int = 0  # requests holding this model (counted on the event loop)

    def identity(self) -> dict[str, Any]:
        d = self.deployed
        return {
            "name": d.name,
            "version": "" if d.version is None else d.version,
            "lineage_id": d.lineage_id,
            "weights_sha256": d.spec.weights_sha256,
        }


@dataclass(eq=False)
class Variant:
    """A name (the reference as given), what it loads, and the model it serves now."""

    name: str
    ref: str | None  # registry reference or folder; None: the project's models/
    role: str  # "live" or "shadow"
    weight: float
    serving: Serving
    swaps: int = 0
    retired: list[Serving] = field(default_factory=list)  # swapped out, draining


class Fleet:
    """The variants, the router between the live ones, and how to reload them."""

    def __init__(
        self,
        live: list[Variant],
        shadow: Variant | None = None,
        route_seed: int = 0,
        loader: Loader | None = None,
        reload_s: float = 0.0,
    ) -> None:
        if not live:
            raise ValueError("a fleet serves at least one live variant")
        self.live, self.shadow = live, shadow
        self.router = Router([v.weight for v in live], route_seed)
        self.loader, self.reload_s = loader, reload_s
        self.batching = BatchSettings()
        self._answer: Answer | None = None
        self._lock = asyncio.Lock()  # one reload at a time
        self._tasks: set[asyncio.Task] = set()
        self._refused: set[tuple] = set()  # (variant, role, resolved) that failed to load

    @property
    def variants(self) -> list[Variant]:
        return [*self.live, *([self.shadow] if self.shadow else [])]

    def serving_for(self, deployed: Deployed, variant_name: str, role: str) -> Serving:
        """A model made ready to serve: its schema models and (live) its batcher."""
        row = row_model(deployed.schema)
        batcher = None
        if role == "live":
            answer = self._answer
            assert answer is not None, "bind() the fleet to its app first"
            batcher = MicroBatcher(
                lambda requests: answer(deployed, variant_name, requests), self.batching
            )
        return Serving(deployed, row, request_model(row), batcher)

    def bind(self, answer: Answer, batching: BatchSettings) -> None:
        """Give each live variant its batcher, answering with ``answer``."""
        self._answer, self.batching = answer, batching
        for variant in self.variants:
            variant.serving = self.serving_for(variant.serving.deployed, variant.name, variant.role)

    def start(self) -> None:
        for variant in self.live:
            variant.serving.batcher.start()
        if self.reload_s > 0 and self.loader is not None:
            self._spawn(self._poll())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for variant in self.live:
            for serving in [*variant.retired, variant.serving]:
                await serving.batcher.stop()  # the pass under way finishes first

    def pick(self, key: str | None) -> Variant:
        return self.live[self.router.pick(key)]

    # -- swapping ---------------------------------------------------------------------
    async def reload(self, retry: bool = True) -> list[dict[str, Any]]:
        """Re-resolve every variant's reference; swap each whose model changed. Returns,
        per variant, what it served before and serves now (``swapped``), and ``error``
        where the reference or its new version could not be loaded: that variant keeps
        its model. The poll leaves a version that failed alone until the reference moves
        again (``retry=False``); ``POST /admin/reload`` tries it again."""
        if self.loader is None:
            return []
        async with self._lock:
            return [await self._reload(variant, retry) for variant in self.variants]

    async def _reload(self, variant: Variant, retry: bool) -> dict[str, Any]:
        from starlette.concurrency import run_in_threadpool

        before = variant.serving.deployed
        done = {"variant": variant.name, "role": variant.role, "before": before.lineage_id}
        try:
            now = await run_in_threadpool(self.loader.resolve, variant.ref)
            moved = now is not None and now != (before.name, before.version)
            if moved and (retry or (variant.name, variant.role, now) not in self._refused):
                try:
                    self._swap(variant, await run_in_threadpool(self._load, variant))
                except Exception:
                    self._refused.add((variant.name, variant.role, now))
                    raise
        except Exception as err:  # this variant keeps its model; the others go on
            done["error"] = " ".join(f"{type(err).__name__}: {err}".split())
        done["now"] = variant.serving.deployed.lineage_id
        done["swapped"] = variant.serving.deployed is not before
        return done

    def _load(self, variant: Variant) -> Serving:
        """The variant's model as its reference names it now (in a worker thread)."""
        deployed = self.loader.load(variant.ref)
        return self.serving_for(deployed, variant.name, variant.role)

    def _swap(self, variant: Variant, fresh: Serving) -> None:
        old = variant.serving
        if fresh.batcher is not None:
            fresh.batcher.start()
        variant.serving, variant.swaps = fresh, variant.swaps + 1  # one assignment: atomic
        log.warning(
            "assay serve: %s now serves %s (was %s)",
            variant.name,
            fresh.deployed.lineage_id,
            old.deployed.lineage_id,
        )
        if old.batcher is not None:
            variant.retired.append(old)
            self._spawn(self._retire(variant, old))

    async def _retire(self, variant: Variant, old: Serving) -> None:
        while old.open:  # requests still on the old model finish on it
            await asyncio.sleep(0.01)
        await old.batcher.stop()
        variant.retired.remove(old)
        if gc.get_freeze_count():  # the server froze what it loaded at start: the old
            gc.unfreeze()  # model among it; one full collection (about 0.15 s) frees
            gc.collect()  # its reference cycles, then the rest is frozen again
            gc.freeze()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.reload_s)
            for done in await self.reload(retry=False):
                if "error" in done:
                    log.warning(
                        "assay serve: %s keeps %s: reload failed: %s",
                        done["variant"],
                        done["now"],
                        done["error"],
                    )

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
