"""The HTTP endpoint: FastAPI, served by uvicorn.

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}``. In order, a request is
refused with 413 when its body is over ``--max-body-bytes`` (checked while it is read) or it
holds more than ``--max-rows`` rows; with 422 naming the row and field when a row breaks the
model's input schema (types, ranges, allowed categories, unknown fields, booleans for
numbers, NaN or Infinity) or a value overflows the model's float32 input after the feature
transform; and with 422 naming the row when the model's output for it is not finite.
``GET /health`` and ``GET /metadata`` (name, version, lineage id, task, classes, inputs,
and the micro-batching settings and counts).

The endpoint reads the body itself rather than through a pydantic parameter so that the
row count is checked before any row is validated (100,000 rows once took 18 s and 1 GB).
Each request is validated alone; concurrent valid requests are then answered together
(:mod:`assayml.serve.batching`), and each response says in ``X-Assay-Batch-Rows`` and
``X-Assay-Batch-Requests`` how many rows and requests shared its pass.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Sequence
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assayml.errors import DataError
from assayml.models.inference import Predictions
from assayml.serve.batching import BatchSettings, MicroBatcher, Shared
from assayml.serve.body_limit import BodyLimit
from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import Deployed, prediction_columns
from assayml.serve.finite import Problem, model_inputs, nonfinite_outputs, transform_overflows
from assayml.serve.limits import ServeLimits
from assayml.serve.rows import parse_rows, plain, request_model, request_schema, row_model

INLINE_BYTES = 1 << 16  # bodies up to this size are parsed on the event loop (~40 us a row)


def create_app(
    deployed: Deployed,
    capture: CaptureWriter | None = None,
    threshold: float = 0.5,
    limits: ServeLimits | None = None,
    batching: BatchSettings | None = None,
) -> FastAPI:
    """The app serving ``deployed``; ``capture`` (if any) is flushed on graceful shutdown."""
    limits, batching = limits or ServeLimits(), batching or BatchSettings()
    row = row_model(deployed.schema)
    body_model = request_model(row)
    batcher = MicroBatcher(
        lambda requests: answer_requests(deployed, requests, threshold, capture), batching
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        # Everything loaded by now (libraries, model, app: ~300,000 objects) lives as long
        # as the server: frozen, a full collection no longer walks it. Each one took 140 to
        # 160 ms, about one per 4,000 requests at 32 clients, and every open request waited
        # it out (p99 of 150-200 ms); frozen, 2 ms.
        gc.collect()
        gc.freeze()
        batcher.start()
        yield
        await batcher.stop()  # the pass under way finishes first
        if capture is not None:
            capture.close()  # graceful shutdown: nothing buffered is lost

    app = FastAPI(title=f"assay: {deployed.name}", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": deployed.lineage_id}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        settings = {"max_batch": batching.max_batch, "max_wait_ms": batching.max_wait_ms}
        return {**deployed.metadata(), "batching": settings | batcher.stats.as_dict()}

    @app.post("/predict", openapi_extra={"requestBody": request_schema(row, limits.max_rows)})
    async def predict(request: Request) -> JSONResponse:
        body = await request.body()  # bounded by BodyLimit
        if len(body) <= INLINE_BYTES:
            rows = parse_rows(body, body_model, limits.max_rows)
        else:  # a large body: off the loop
            rows = await run_in_threadpool(parse_rows, body, body_model, limits.max_rows)
        records, shared = await batcher.submit(rows, request.client)
        return JSONResponse(
            {"model": deployed.lineage_id, "predictions": records},
            headers={
                "X-Assay-Batch-Rows": str(shared.rows),
                "X-Assay-Batch-Requests": str(shared.requests),
            },
        )

    return app


def answer_requests(
    deployed: Deployed,
    requests: list[list[dict]],
    threshold: float,
    capture: CaptureWriter | None = None,
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
                answers[i] = (_captured(capture, deployed, requests[i], records), shared)
            continue
        for i in members:
            answers[i] = _answer_alone(deployed, requests[i], threshold, capture, len(members) > 1)
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
) -> tuple[Any, Shared]:
    try:
        result = _captured(capture, deployed, rows, predict_rows(deployed, rows, threshold))
    except Exception as err:  # the request's own answer (422, or 500)
        result = err
    return result, Shared(len(rows), 1, retried)


def _captured(
    capture: CaptureWriter | None, deployed: Deployed, rows: list[dict], records: list[dict]
) -> list[dict]:
    # Copies: the answers then gain their ids, which a record already holds as its "id"
    # (captured as themselves, records flushed later held their own id in "outputs").
    ids = [None] * len(rows)
    if capture is not None:
        ids = capture.capture(rows, [dict(r) for r in records], deployed.lineage_id)
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
    if not sizes or len(sizes) < 2 or not deployed.sampling.mc_samples:
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
