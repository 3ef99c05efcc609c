"""The HTTP endpoint: FastAPI, served by uvicorn.

``POST /predict`` takes ``{"rows": [{column: value, ...}, ...]}``; each row is validated
against the model's input schema by a pydantic model built from it (types, ranges, allowed
categories), so a bad row is refused with 422 naming its field. ``GET /health`` and
``GET /metadata`` (name, version, lineage id, task, classes, inputs).

(No ``from __future__ import annotations`` here: FastAPI reads the endpoint's annotation,
a model built at run time, as an object.)
"""

import json
from contextlib import asynccontextmanager
from typing import Any, Literal

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, create_model

from assayml.serve.capture import CaptureWriter
from assayml.serve.deployed import Deployed, prediction_columns

PYTHON_TYPES = {"float": float, "int": int, "bool": bool, "category": str, "str": str}


def row_model(schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model of one input row: a field per input column, with its type, range
    and allowed values; unknown fields are refused."""
    fields = {}
    for name in schema["inputs"]:
        spec = schema["columns"][name]
        kind: Any = PYTHON_TYPES[spec["dtype"]]
        if spec.get("allowed"):
            kind = Literal[tuple(spec["allowed"])]
        bounds = {
            k: spec[key]
            for k, key in (("ge", "min"), ("le", "max"))
            if spec.get(key) is not None and spec["dtype"] in ("float", "int")
        }
        if spec.get("nullable"):
            fields[name] = (kind | None, Field(default=None, **bounds))
        else:
            fields[name] = (kind, Field(..., **bounds))
    return create_model("Row", __config__=ConfigDict(extra="forbid"), **fields)


def create_app(
    deployed: Deployed, capture: CaptureWriter | None = None, threshold: float = 0.5
) -> FastAPI:
    row = row_model(deployed.schema)
    request = create_model("PredictRequest", rows=(list[row], Field(..., min_length=1)))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        if capture is not None:
            capture.close()  # graceful shutdown: nothing buffered is lost

    app = FastAPI(title=f"assay: {deployed.name}", lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": deployed.lineage_id}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        return deployed.metadata()

    @app.post("/predict")
    def predict(body: request) -> dict[str, Any]:  # type: ignore[valid-type]
        rows = [r.model_dump() for r in body.rows]
        frame = pd.DataFrame(rows, columns=deployed.schema["inputs"])
        outputs = prediction_columns(deployed, deployed.predict(frame, threshold))
        records = json.loads(outputs.to_json(orient="records"))  # plain JSON types
        ids = capture.capture(rows, records, deployed.lineage_id) if capture else [None] * len(rows)
        for record, record_id in zip(records, ids, strict=True):
            record["capture_id"] = record_id
        return {"model": deployed.lineage_id, "predictions": records}

    return app
