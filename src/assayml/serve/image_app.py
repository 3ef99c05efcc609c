"""The HTTP app for a model trained on images (see serve/images.py): ``POST /predict``
takes one PNG image as the body (``Content-Type: image/png``); ``GET /health``,
``GET /metadata`` and ``GET /metrics`` as for table models (one variant: the model). 415
for another content type, 422 naming the problem for a body that is not a PNG of the
model's size, 413 over ``--max-body-bytes``."""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from assayml.errors import DataError
from assayml.serve.body_limit import BodyLimit
from assayml.serve.images import ImageModel, decode_image
from assayml.serve.limits import ServeLimits
from assayml.serve.metrics import VARIANT_KEY, Observed, ServeMetrics, StateCollector


def create_image_app(
    model: ImageModel,
    capture=None,
    threshold: float = 0.5,
    limits: ServeLimits | None = None,
    name: str | None = None,
) -> FastAPI:
    """The HTTP app for an image model: ``POST /predict`` with a PNG body; ``name``: the
    variant's name in answers, captures and metrics (default: the model's name)."""
    limits = limits or ServeLimits()
    metrics = ServeMetrics()
    name = name or model.name
    metrics.registry.register(StateCollector(partial(_state, model, name, capture)))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        if capture is not None:
            capture.close()

    app = FastAPI(title=f"assay: {model.name}", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(Observed, metrics=metrics)

    @app.get("/metrics")
    def prometheus(request: Request) -> Response:
        return metrics.exposition(request.headers.get("accept", ""))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model.lineage_id}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        return model.metadata()

    def answer(body: bytes) -> dict[str, Any]:
        try:
            image = decode_image(body, model.input_shape, "request body")
        except DataError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        record = model.predict_images(image[None], threshold)[0]
        digest = hashlib.sha256(body).hexdigest()
        if capture is not None:
            inputs = [{"image_sha256": digest, "bytes": len(body)}]
            extra = {"variant": name}
            record["capture_id"] = capture.capture(inputs, [dict(record)], model.lineage_id, extra)[
                0
            ]
        metrics.scored(name, 1)
        return {
            "model": model.lineage_id,
            "variant": name,
            "image_sha256": digest,
            "predictions": [record],
        }

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        request.scope[VARIANT_KEY] = name
        kind = request.headers.get("content-type", "")
        if not kind.startswith("image/png"):
            raise HTTPException(
                status_code=415, detail=f"send a PNG image (Content-Type: image/png), not {kind!r}"
            )
        return await run_in_threadpool(answer, await request.body())

    return app


def _state(model: ImageModel, name: str, capture) -> dict[str, Any]:
    identity = {"variant": name, "role": "live", "ref": name}
    identity |= {"name": model.name, "version": "" if model.version is None else model.version}
    identity |= {"lineage_id": model.lineage_id, "weights_sha256": model.spec.weights_sha256}
    captures = {"live": capture} if capture is not None else {}
    return {"models": [identity], "swaps": {}, "captures": captures}
