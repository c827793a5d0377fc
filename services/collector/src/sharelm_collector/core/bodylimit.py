"""413 for request bodies over the cap: on the declared Content-Length, or, for chunked uploads that declare
none, by reading the body up to the cap before the application sees it (the server holds a body no longer
than its Content-Length, so declared lengths need no second check).

Before the 413 the rest of the body is read and dropped, up to `drain_max_bytes` and `drain_timeout_s`:
closing a connection with unread data in it makes the kernel reset it, and clients that send the whole
body before they read (Python's urllib and http.client, many others) then see a reset or a broken pipe,
not the answer. A client that asked `Expect: 100-continue` has not sent the body and gets the 413 at once;
a body declared larger than the drain bound is refused at once too (reading it would cost more than the
answer is worth)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, drain_max_bytes: int = 64 * 1024 * 1024,
                 drain_timeout_s: float = 10.0):
        self.app = app
        self.max_bytes = max_bytes
        self.drain_max_bytes = drain_max_bytes
        self.drain_timeout_s = drain_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._reject(send)
                return
            if int(declared) > self.max_bytes:
                waiting = headers.get(b"expect", b"").lower() == b"100-continue"
                if not waiting and int(declared) <= self.drain_max_bytes:
                    await self._drain(receive, 0)
                await self._reject(send)
                return
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                if message.get("more_body", False):
                    await self._drain(receive, size)
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _drain(self, receive: Receive, already: int) -> None:
        """Read and drop the rest of the body, within the bounds (past them, the close may reset)."""

        async def drain() -> None:
            size = already
            while size <= self.drain_max_bytes:
                message = await receive()
                if message["type"] != "http.request":
                    return
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drain(), self.drain_timeout_s)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body is over the cap of {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the already-read `body` once, then the connection's own messages
    (a disconnect): the body was consumed to check it, the app still reads it as if fresh."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
