"""``GET /metrics``: the server's own figures in Prometheus' text format (prometheus-client).

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the process-wide
default), so two apps in one process, or a test's, never share or collide on a metric.

Counted as requests are answered (``handler``: the route, ``variant``: the variant that
answered, ``""`` for requests no variant took, such as ``/health`` or a 404):

* ``assay_requests_total{handler, variant, status}`` and
  ``assay_request_errors_total{handler, variant, status}`` (statuses 400 and over);
* ``assay_request_duration_seconds{variant}``: ``POST /predict`` latency (arrival to the
  start of the answer), a histogram;
* ``assay_rows_scored_total{variant}`` and, for a shadow, ``assay_shadow_rows_total``,
  ``assay_shadow_errors_total`` and ``assay_shadow_dropped_total`` (its queue was full).

Read when scraped (:class:`StateCollector`): ``assay_model_info`` (variant, role, ref,
name, version, lineage id, weights SHA-256 of the model each variant serves now),
``assay_model_swaps_total{variant, role}``, ``assay_capture_queue_records{role}`` (records
buffered, not yet written), ``assay_capture_records_total{role}``,
``assay_capture_files_total{role}`` (files written), ``assay_shadow_queue_requests``; and
prometheus-client's ``process_*`` figures (CPU seconds, resident and virtual memory, open
files) from its ``ProcessCollector`` on the app's registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import choose_encoder
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# seconds; a row of a small model answers in about a millisecond, a large request in tens
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VARIANT_KEY = "assay.variant"  # where the endpoint notes, in the ASGI scope, who answered
HANDLERS = ("/predict", "/health", "/metadata", "/metrics", "/admin/reload")


class ServeMetrics:
    """The app's registry and the metrics counted as requests are answered."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "assay_requests",
            "HTTP requests answered, by handler, variant and status",
            ["handler", "variant", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "assay_request_errors",
            "HTTP requests answered with a status of 400 or more",
            ["handler", "variant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "assay_request_duration_seconds",
            "POST /predict: seconds from the request's arrival to its answer",
            ["variant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = _counter(self.registry, "assay_rows_scored", "rows answered with a prediction")
        self._children: dict[tuple, tuple] = {}
        self._rows: dict[str, Any] = {}
        self.shadow_rows = _counter(self.registry, "assay_shadow_rows", "rows a shadow predicted")
        self.shadow_errors = _counter(
            self.registry, "assay_shadow_errors", "shadow requests that failed (never answered)"
        )
        self.shadow_dropped = _counter(
            self.registry, "assay_shadow_dropped", "requests not copied to a full shadow queue"
        )

    def observe(self, handler: str, variant: str, status: int, seconds: float | None) -> None:
        key = (handler, variant, status)
        children = self._children.get(key)
        if children is None:  # labels() costs a lock and a tuple per call: kept per key
            labels = (handler, variant, str(status))
            children = self._children[key] = (
                self.requests.labels(*labels),
                self.errors.labels(*labels) if status >= 400 else None,
                self.latency.labels(variant),
            )
        children[0].inc()
        if children[1] is not None:
            children[1].inc()
        if seconds is not None:
            children[2].observe(seconds)

    def scored(self, variant: str, rows: int) -> None:
        child = self._rows.get(variant)
        if child is None:
            child = self._rows[variant] = self.rows.labels(variant)
        child.inc(rows)

    def exposition(self, accept: str = "") -> Response:
        """The registry in the format the scraper asks for (``Accept``): Prometheus' text
        format, or OpenMetrics when asked for it."""
        encoder, content_type = choose_encoder(accept)
        return Response(encoder(self.registry), headers={"Content-Type": content_type})


def _counter(registry: CollectorRegistry, name: str, text: str) -> Counter:
    return Counter(name, text, ["variant"], registry=registry)


class StateCollector:
    """Figures read from the server's state when scraped: ``state()`` returns
    ``{"models": [dict], "swaps": {(variant, role): n}, "captures": {role: writer},
    "shadow_queue": n | None}``."""

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self.state = state

    def collect(self) -> Iterable[Any]:
        state = self.state()
        info = InfoMetricFamily(
            "assay_model",
            "the model each variant serves now",
            labels=["variant", "role", "ref"],
        )
        for model in state["models"]:
            labels = [model.pop("variant"), model.pop("role"), model.pop("ref")]
            info.add_metric(labels, {k: str(v) for k, v in model.items()})
        yield info
        swaps = CounterMetricFamily(
            "assay_model_swaps", "times a variant's model was swapped", labels=["variant", "role"]
        )
        for (variant, role), count in state["swaps"].items():
            swaps.add_metric([variant, role], count)
        yield swaps
        yield from _capture_families(state["captures"])
        if state.get("shadow_queue") is not None:
            yield GaugeMetricFamily(
                "assay_shadow_queue_requests",
                "requests waiting for the shadow",
                value=state["shadow_queue"],
            )


def _capture_families(captures: dict[str, Any]) -> Iterable[Any]:
    queue = GaugeMetricFamily(
        "assay_capture_queue_records", "captured records not yet written", labels=["role"]
    )
    records = CounterMetricFamily(
        "assay_capture_records", "captured records written", labels=["role"]
    )
    files = CounterMetricFamily("assay_capture_files", "capture files written", labels=["role"])
    for role, writer in captures.items():
        queue.add_metric([role], writer.pending)
        records.add_metric([role], writer.captured)
        files.add_metric([role], writer.files)
    yield from (queue, records, files)


class Observed:
    """Pure ASGI middleware: every HTTP request counted by handler, variant (what the
    endpoint put in ``scope[VARIANT_KEY]``) and status; ``/predict`` timed to the start of
    its answer. Counted as the answer starts, so a client that has its answer finds it
    counted in its next scrape."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, counted = time.perf_counter(), False
        path = scope.get("path", "")
        handler = path if path in HANDLERS else "other"

        def count(status: int) -> None:
            nonlocal counted
            counted = True
            variant = scope.get(VARIANT_KEY, "")
            seconds = time.perf_counter() - started if handler == "/predict" else None
            self.metrics.observe(handler, variant, status, seconds)

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                count(message["status"])  # before the client can have the answer
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if not counted:  # no answer started: the server answers 500 or drops it
                count(500)
