"""The request body limit of the HTTP endpoint, enforced while the body is read, before
anything is buffered: a declared ``Content-Length`` over the limit is refused before a byte
of the body is read, and a chunked body (no length declared) is counted as it streams in
and refused the moment it passes the limit. FastAPI added a ``max_body_size`` of its own
only in recent releases (not every version our dependency floor admits), and its answer
does not say which limit was hit or how to raise it; this middleware does both and works on
every version we allow.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """413 for a body over the limit. An HTTPException, so whichever layer sees it first
    (FastAPI's handlers or :class:`BodyLimit`) answers 413 with this message."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        size = f" of {declared} bytes" if declared is not None else ""
        super().__init__(
            413,
            f"request body{size} is over the limit of {limit} bytes "
            "(assay serve --max-body-bytes): send the rows in smaller batches",
        )


class BodyLimit:
    """Pure ASGI middleware refusing HTTP request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Answered without reading the body; uvicorn discards the unread rest and keeps
            # the connection open for the client's next request.
            await _refuse(BodyTooLarge(self.max_bytes, declared), scope, receive, send)
            return
        received, started = 0, False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as err:
            if started:  # too late to answer 413: let the server close the connection
                raise
            await _refuse(err, scope, receive, send)


async def _refuse(err: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": err.detail}, status_code=err.status_code)
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # h11 refuses a malformed length before the app sees the request
