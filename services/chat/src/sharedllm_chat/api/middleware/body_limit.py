"""413 for request bodies over the cap, before anything parses them.

A declared Content-Length over the cap is refused at once; a chunked body is counted as the app reads it.
Either way the rest of the body is read and dropped (up to `drain_bytes`, for `drain_s` at most) before
the 413 goes out with `Connection: close`: a client that writes its whole body before reading (urllib,
http.client) would otherwise meet a connection reset, since closing a socket with unread data resets it.
A client that sent `Expect: 100-continue` has not sent its body, and one that declared more than the drain
bound would be cut off anyway: both get the 413 straight away.
"""

from __future__ import annotations

import asyncio
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharedllm_chat.api.errors import error_json


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, drain_bytes: int, drain_s: float) -> None:
        self.app = app
        self.max_bytes, self.drain_bytes, self.drain_s = max_bytes, drain_bytes, drain_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            expects = headers.get(b"expect", b"").lower() == b"100-continue"
            # Past the drain bound the connection is cut anyway: reading part of it would only cost us.
            await self._refuse(receive, send, drain=not expects and int(declared) <= self.drain_bytes)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, over, answered = 0, False, False

        async def counting_receive() -> Message:
            nonlocal size, over
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    over = True
                    # FastAPI passes an HTTPException from the body read through unchanged.
                    raise HTTPException(413, "request body over the cap")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if not over:
                await send(message)
            elif not answered:  # whatever the app answers to the exception, the answer is our 413
                answered = True
                await self._refuse(receive, send, drain=True)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not answered:
            await self._refuse(receive, send, drain=True)

    async def _refuse(self, receive: Receive, send: Send, drain: bool) -> None:
        if drain:
            await self._drain(receive)
        body = error_json(
            413,
            f"the request body is over this server's cap of {self.max_bytes} bytes",
            code="request_too_large",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _drain(self, receive: Receive) -> None:
        read, deadline = 0, time.monotonic() + self.drain_s
        while read < self.drain_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                return
            if message["type"] != "http.request":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
