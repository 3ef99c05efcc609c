"""The HTTP endpoint: FastAPI, served by uvicorn.

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}``. In order, a request is
refused with 413 when its body is over ``--max-body-bytes`` (checked while it is read) or it
holds more than ``--max-rows`` rows; with 422 naming the row and field when a row breaks the
model's input schema (types, ranges, allowed categories, unknown fields, booleans for
numbers, NaN or Infinity) or a value overflows the model's float32 input after the feature
transform; and with 422 naming the row when the model's output for it is not finite.
``GET /health`` and ``GET /metadata`` (name, version, lineage id, task, classes, inputs).

The endpoint reads the body itself rather than through a pydantic parameter so that the
row count is checked before any row is validated (100,000 rows once took 18 s and 1 GB).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from assayml.errors import DataError
from assayml.serve.body_limit import BodyLimit
from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import Deployed, prediction_columns
from assayml.serve.finite import Problem, model_inputs, nonfinite_outputs, transform_overflows
from assayml.serve.limits import ServeLimits
from assayml.serve.rows import parse_rows, plain, request_model, request_schema, row_model


def create_app(
    deployed: Deployed,
    capture: CaptureWriter | None = None,
    threshold: float = 0.5,
    limits: ServeLimits | None = None,
) -> FastAPI:
    """The app serving ``deployed``; ``capture`` (if any) is flushed on graceful shutdown."""
    limits = limits or ServeLimits()
    row = row_model(deployed.schema)
    body_model = request_model(row)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        if capture is not None:
            capture.close()  # graceful shutdown: nothing buffered is lost

    app = FastAPI(title=f"assay: {deployed.name}", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": deployed.lineage_id}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        return deployed.metadata()

    def answer(body: bytes) -> dict[str, Any]:
        rows = parse_rows(body, body_model, limits.max_rows)
        records = predict_rows(deployed, rows, threshold)
        ids = capture.capture(rows, records, deployed.lineage_id) if capture else [None] * len(rows)
        for record, record_id in zip(records, ids, strict=True):
            record["capture_id"] = record_id
        return {"model": deployed.lineage_id, "predictions": records}

    @app.post("/predict", openapi_extra={"requestBody": request_schema(row, limits.max_rows)})
    async def predict(request: Request) -> dict[str, Any]:
        body = await request.body()  # bounded by BodyLimit
        return await run_in_threadpool(answer, body)  # parsing and the model: off the loop

    return app


def predict_rows(deployed: Deployed, rows: list[dict], threshold: float) -> list[dict[str, Any]]:
    """Predictions for schema-valid rows, as JSON records.

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
    outputs = prediction_columns(deployed, deployed.predict_inputs(x, threshold))
    _refuse(nonfinite_outputs(outputs), rows)
    return json.loads(outputs.to_json(orient="records"))  # plain JSON types


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
