"""An unexpected exception becomes an OpenAI-shaped 500 here, and the connection stays usable.

Starlette's outermost middleware answers 500 too, but then re-raises, and uvicorn closes a connection whose
app raised after answering: the client's next request on that keep-alive connection is reset. This one
logs the error and returns normally. An answer already under way (a stream) cannot become a 500: that
exception goes on up and the connection is closed, the only way left to tell the client.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharedllm_chat.api.errors import error_json

log = logging.getLogger(__name__)


class ServerErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = error_json(500, "internal server error (logged on the server)", code="internal_error")
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
