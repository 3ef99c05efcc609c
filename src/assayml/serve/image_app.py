"""The HTTP app for a model trained on images (see serve/images.py): ``POST /predict``
takes one PNG image as the body (``Content-Type: image/png``), ``GET /health`` and
``GET /metadata`` as for table models. 415 for another content type, 422 naming the
problem for a body that is not a PNG of the model's size, 413 over ``--max-body-bytes``."""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from assayml.errors import DataError
from assayml.serve.body_limit import BodyLimit
from assayml.serve.images import ImageModel, decode_image
from assayml.serve.limits import ServeLimits


def create_image_app(
    model: ImageModel, capture=None, threshold: float = 0.5, limits: ServeLimits | None = None
) -> FastAPI:
    """The HTTP app for an image model: ``POST /predict`` with a PNG body."""
    limits = limits or ServeLimits()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        if capture is not None:
            capture.close()

    app = FastAPI(title=f"assay: {model.name}", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

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
            record["capture_id"] = capture.capture(inputs, [dict(record)], model.lineage_id)[0]
        return {"model": model.lineage_id, "image_sha256": digest, "predictions": [record]}

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        kind = request.headers.get("content-type", "")
        if not kind.startswith("image/png"):
            raise HTTPException(
                status_code=415, detail=f"send a PNG image (Content-Type: image/png), not {kind!r}"
            )
        return await run_in_threadpool(answer, await request.body())

    return app
