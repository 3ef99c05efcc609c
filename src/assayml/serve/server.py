"""The HTTP endpoint: FastAPI, served by uvicorn.

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}``. In order, a request is
refused with 413 when its body is over ``--max-body-bytes`` (checked while it is read) or it
holds more than ``--max-rows`` rows; with 422 naming the row and field when a row breaks the
model's input schema (types, ranges, allowed categories, unknown fields, booleans for
numbers, NaN or Infinity) or a value overflows the model's float32 input after the feature
transform; and with 422 naming the row when the model's output for it is not finite.
``GET /health``; ``GET /metadata`` (name, version, lineage id, task, classes, inputs,
the micro-batching settings and counts, and the variants); ``GET /metrics``
(:mod:`assayml.serve.metrics`); ``POST /admin/reload`` (:meth:`Fleet.reload`, from this
machine or with the admin token).

Several models can be served (:mod:`assayml.serve.fleet`): each request goes to one live
variant (:mod:`assayml.serve.routing`; the answer names it), and a copy of it to the
shadow, if any (:mod:`assayml.serve.shadow`).

The endpoint reads the body itself rather than through a pydantic parameter so that the
row count is checked before any row is validated (100,000 rows once took 18 s and 1 GB).
Each request is validated alone; concurrent valid requests are then answered together
(:mod:`assayml.serve.batching`), and each response says in ``X-Assay-Batch-Rows`` and
``X-Assay-Batch-Requests`` how many rows and requests shared its pass.
"""

from __future__ import annotations

import gc
import hmac
import json
import threading
from collections.abc import Sequence
from contextlib import asynccontextmanager
from functools import partial
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from assayml.errors import DataError
from assayml.models.inference import Predictions
from assayml.serve.batching import BatchSettings, Shared
from assayml.serve.body_limit import BodyLimit
from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import Deployed, prediction_columns
from assayml.serve.finite import Problem, model_inputs, nonfinite_outputs, transform_overflows
from assayml.serve.fleet import Fleet, Serving, Variant
from assayml.serve.limits import ServeLimits
from assayml.serve.metrics import VARIANT_KEY, Observed, ServeMetrics, StateCollector
from assayml.serve.routing import KEY_HEADER
from assayml.serve.rows import parse_rows, plain, request_schema
from assayml.serve.shadow import ShadowRunner

INLINE_BYTES = 1 << 16  # bodies up to this size are parsed on the event loop (~40 us a row)
LOOPBACK = ("127.0.0.1", "::1")
# One sampling pass at a time in the process: MC dropout seeds torch's global generator for
# the pass, and variants, a shadow and a model being swapped out can run passes at once.
SAMPLING = threading.Lock()


def create_app(
    deployed: Deployed | Fleet,
    capture: CaptureWriter | None = None,
    threshold: float = 0.5,
    limits: ServeLimits | None = None,
    batching: BatchSettings | None = None,
    shadow_capture: CaptureWriter | None = None,
    admin_token: str | None = None,
) -> FastAPI:
    """The app serving ``deployed`` (one model, or a :class:`Fleet` of variants); the
    captures (if any) are flushed on graceful shutdown."""
    limits, batching = limits or ServeLimits(), batching or BatchSettings()
    fleet = deployed if isinstance(deployed, Fleet) else single(deployed)
    metrics = ServeMetrics()
    fleet.bind(
        lambda model, variant, requests: answer_requests(
            model, requests, threshold, capture, variant
        ),
        batching,
    )
    shadow = None
    if fleet.shadow is not None:
        shadow = ShadowRunner(
            fleet.shadow,
            lambda model, requests: answer_requests(model, requests, threshold),
            metrics,
            shadow_capture,
        )
    metrics.registry.register(StateCollector(partial(_state, fleet, capture, shadow)))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # Everything loaded by now (libraries, model, app: ~300,000 objects) lives as long
        # as the server: frozen, a full collection no longer walks it. Each one took 140 to
        # 160 ms, about one per 4,000 requests at 32 clients, and every open request waited
        # it out (p99 of 150-200 ms); frozen, 2 ms.
        gc.collect()
        gc.freeze()
        fleet.start()
        if shadow is not None:
            shadow.start()
        yield
        await fleet.stop()  # the passes under way finish first
        if shadow is not None:
            await run_in_threadpool(shadow.close)  # its queue, then its capture
        if capture is not None:
            capture.close()  # graceful shutdown: nothing buffered is lost

    first = fleet.live[0]
    app = FastAPI(title=f"assay: {first.serving.deployed.name}", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(Observed, metrics=metrics)  # outermost: sees every answer, 413 too

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": first.serving.deployed.lineage_id}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        settings = {"max_batch": batching.max_batch, "max_wait_ms": batching.max_wait_ms}
        serving = first.serving
        return {
            **serving.deployed.metadata(),
            "batching": settings | serving.batcher.stats.as_dict(),
            "variants": [_variant_metadata(v) for v in fleet.variants],
        }

    @app.get("/metrics")
    def prometheus(request: Request) -> Response:
        return metrics.exposition(request.headers.get("accept", ""))

    @app.post("/admin/reload")
    async def reload(request: Request) -> JSONResponse:
        check_admin(request, admin_token)
        done = await fleet.reload()
        failed = any("error" in d for d in done)  # 409: those variants kept their models
        return JSONResponse({"variants": done}, status_code=409 if failed else 200)

    @app.post(
        "/predict",
        openapi_extra={"requestBody": request_schema(first.serving.row, limits.max_rows)},
    )
    async def predict(request: Request) -> JSONResponse:
        variant = fleet.pick(request.headers.get(KEY_HEADER) or None)  # empty: no key
        request.scope[VARIANT_KEY] = variant.name
        serving = variant.serving  # the model this request starts and finishes on
        serving.open += 1
        try:
            rows, (records, shared) = await _answer(request, serving, limits.max_rows)
        finally:
            serving.open -= 1
        metrics.scored(variant.name, len(records))
        if shadow is not None:
            shadow.offer(rows, [r["capture_id"] for r in records])
        return JSONResponse(
            {"model": serving.deployed.lineage_id, "variant": variant.name, "predictions": records},
            headers={
                "X-Assay-Variant": variant.name,
                "X-Assay-Batch-Rows": str(shared.rows),
                "X-Assay-Batch-Requests": str(shared.requests),
            },
        )

    return app


async def _answer(
    request: Request, serving: Serving, max_rows: int
) -> tuple[list[dict], tuple[list[dict], Shared]]:
    """The request's rows, and their answer from ``serving``."""
    body = await request.body()  # bounded by BodyLimit
    if len(body) <= INLINE_BYTES:
        rows = parse_rows(body, serving.body, max_rows)
    else:  # a large body: off the loop
        rows = await run_in_threadpool(parse_rows, body, serving.body, max_rows)
    return rows, await serving.batcher.submit(rows, request.client)


def single(deployed: Deployed, name: str | None = None) -> Fleet:
    """One model, as ``assay serve --model`` serves it: one live variant, weight 1."""
    return Fleet([Variant(name or deployed.name, None, "live", 1.0, placeholder(deployed))])


def placeholder(deployed: Deployed) -> Serving:
    """A model not yet bound to an app (:meth:`Fleet.bind` makes its schema and batcher)."""
    return Serving(deployed, None, None, None)  # type: ignore[arg-type]


def _variant_metadata(variant: Variant) -> dict[str, Any]:
    serving = variant.serving
    out = {"name": variant.name, "role": variant.role, "weight": variant.weight}
    out |= {"ref": variant.ref, "model": serving.deployed.lineage_id}
    out |= {"version": serving.deployed.version, "swaps": variant.swaps}
    if serving.batcher is not None:
        out["batching"] = serving.batcher.stats.as_dict()
    return out


def _state(fleet: Fleet, capture, shadow) -> dict[str, Any]:
    models = [
        {"variant": v.name, "role": v.role, "ref": v.ref or ""} | v.serving.identity()
        for v in fleet.variants
    ]
    captures = {"live": capture} if capture is not None else {}
    if shadow is not None and shadow.capture is not None:
        captures["shadow"] = shadow.capture
    return {
        "models": models,
        "swaps": {(v.name, v.role): v.swaps for v in fleet.variants},
        "captures": captures,
        "shadow_queue": None if shadow is None else shadow.queue.qsize(),
    }


def check_admin(request: Request, token: str | None) -> None:
    """``/admin/*``: with ``--admin-token`` (or ``$ASSAY_ADMIN_TOKEN``), only a request
    carrying ``Authorization: Bearer TOKEN``; without one, only from this machine."""
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(403, "admin: give Authorization: Bearer <the --admin-token>")
        return
    host = request.client.host if request.client else ""
    if host not in LOOPBACK:
        raise HTTPException(
            403, "admin: only from this machine (127.0.0.1) unless --admin-token is set"
        )


def answer_requests(
    deployed: Deployed,
    requests: list[list[dict]],
    threshold: float,
    capture: CaptureWriter | None = None,
    variant: str | None = None,
) -> list[tuple[Any, Shared]]:
    """Each request's prediction records (captured, with their ids) or its exception, and
    the pass that answered it.

    Requests whose rows hold the same Python types share a pass, so that each column of
    the shared table has the type it has alone (a column holding ``1`` in one request and
    ``None`` in another becomes a float column, where a category ``1`` reads ``"1.0"``). When a
    shared pass is refused (an overflow, a transform error, an output that is not finite),
    each of its requests is answered alone, so only the one at fault fails, with the rows
    of its own error numbered as in its own body.
    """
    answers: list[tuple[Any, Shared]] = [None] * len(requests)  # type: ignore[list-item]
    groups: dict[frozenset, list[int]] = {}
    for i, rows in enumerate(requests):
        groups.setdefault(frozenset(tuple(map(type, r.values())) for r in rows), []).append(i)
    for members in groups.values():
        together = _answer_together(deployed, [requests[i] for i in members], threshold)
        if together is not None:
            for i, (records, shared) in zip(members, together, strict=True):
                answers[i] = (_captured(capture, deployed, requests[i], records, variant), shared)
            continue
        for i in members:
            answers[i] = _answer_alone(
                deployed, requests[i], threshold, capture, len(members) > 1, variant
            )
    return answers


def _answer_together(
    deployed: Deployed, requests: list[list[dict]], threshold: float
) -> list[tuple[list[dict], Shared]] | None:
    """The requests' records from one pass, or None: answer them alone."""
    if len(requests) < 2:
        return None
    sizes = [len(rows) for rows in requests]
    try:
        records = predict_rows(deployed, [r for rows in requests for r in rows], threshold, sizes)
    except Exception:  # answered alone, each request meets its own error
        return None
    shared = Shared(len(records), len(requests))
    bounds = np.cumsum([0, *sizes]).tolist()
    return [(records[a:b], shared) for a, b in pairwise(bounds)]


def _answer_alone(
    deployed: Deployed,
    rows: list[dict],
    threshold: float,
    capture: CaptureWriter | None,
    retried: bool = False,
    variant: str | None = None,
) -> tuple[Any, Shared]:
    try:
        records = predict_rows(deployed, rows, threshold)
        result = _captured(capture, deployed, rows, records, variant)
    except Exception as err:  # the request's own answer (422, or 500)
        result = err
    return result, Shared(len(rows), 1, retried)


def _captured(
    capture: CaptureWriter | None,
    deployed: Deployed,
    rows: list[dict],
    records: list[dict],
    variant: str | None = None,
) -> list[dict]:
    # Copies: the answers then gain their ids, which a record already holds as its "id"
    # (captured as themselves, records flushed later held their own id in "outputs").
    ids = [None] * len(rows)
    if capture is not None:
        extra = None if variant is None else {"variant": variant}
        ids = capture.capture(rows, [dict(r) for r in records], deployed.lineage_id, extra)
    for record, record_id in zip(records, ids, strict=True):
        record["capture_id"] = record_id
    return records


def predict_rows(
    deployed: Deployed, rows: list[dict], threshold: float, sizes: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Predictions for schema-valid rows, as JSON records.

    Args:
        sizes: the rows come from requests of these sizes, in order: a model that samples
            (MC dropout) runs each request's rows alone, as its draws depend on the rows
            drawn with.

    Raises:
        RequestValidationError: a value overflows the model's input, or its output for a
            row is not finite; nothing is predicted for any row of the request.
    """
    frame = pd.DataFrame(rows, columns=deployed.schema["inputs"])
    try:
        x = model_inputs(deployed.transform, frame)
        _refuse(transform_overflows(deployed.transform, frame, x), rows)
    except DataError as err:  # the transform's own refusal (e.g. a log of a negative value)
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "rows"), "msg": str(err), "input": None}]
        ) from None
    outputs = prediction_columns(deployed, _forward(deployed, x, threshold, sizes))
    _refuse(nonfinite_outputs(outputs), rows)
    return json.loads(outputs.to_json(orient="records"))  # plain JSON types


def _forward(
    deployed: Deployed, x: np.ndarray, threshold: float, sizes: Sequence[int] | None
) -> Predictions:
    if not deployed.sampling.mc_samples:
        return deployed.predict_inputs(x, threshold)
    with SAMPLING:  # MC dropout seeds torch's global generator for the pass
        return _sampled(deployed, x, threshold, sizes)


def _sampled(
    deployed: Deployed, x: np.ndarray, threshold: float, sizes: Sequence[int] | None
) -> Predictions:
    if not sizes or len(sizes) < 2:
        return deployed.predict_inputs(x, threshold)
    bounds = np.cumsum([0, *sizes]).tolist()
    parts = [deployed.predict_inputs(x[a:b], threshold) for a, b in pairwise(bounds)]
    first = parts[0]
    return Predictions(
        first.task,
        np.concatenate([p.predicted for p in parts]),
        None if first.probabilities is None else np.concatenate([p.probabilities for p in parts]),
        np.concatenate([p.outputs for p in parts], axis=1),  # [S, rows, out]
        {k: np.concatenate([p.uncertainty[k] for p in parts]) for k in first.uncertainty},
    )


def _refuse(problems: Sequence[Problem], rows: list[dict]) -> None:
    if not problems:
        return
    raise RequestValidationError(
        [
            {
                "type": "finite_number",
                "loc": ("body", "rows", p.row, *([p.column] if p.column else [])),
                "msg": p.reason,
                "input": plain(p.value if p.column else rows[p.row]),
            }
            for p in problems
        ]
    )
