"""The public plugin's anonymous upload on PostgreSQL as plain ASGI, beside FastAPI rather than through it.

FastAPI's routing, dependency solving and response handling cost more CPU than the upload's own work (a
profile at 16 clients). This middleware answers `POST /api/endpoint` without an Authorization header, sent as
`application/json`, with the route's own code (`routes.plugin.save_anonymous`) and the same checks in the
same order: the body cap, CORS and metrics middlewares around it as around the route, then the body parsed
once and validated once as the route's `CappedPluginUpload`, the per-address rate limit, redaction, the
stored document's check, the group commit. Anything it does not take on goes to FastAPI unchanged: another
route, a token, another content type, and every body that does not parse or validate (replayed, so FastAPI
answers it exactly as before: the same 400, 413 or 422). An exception after validation is answered by the
app's own exception handler for it, as FastAPI would."""

from __future__ import annotations

import json

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from sharelm_collector import ingest
from sharelm_collector.api.deps import limit_ip
from sharelm_collector.api.routes import plugin
from sharelm_collector.core.bodylimit import replay_body

PATH = "/api/endpoint"
_JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8",
                         b"application/json;charset=utf-8"})
_UPLOAD = TypeAdapter(ingest.CappedPluginUpload)
_ROUTE = next(r for r in plugin.router.routes if getattr(r, "path", None) == PATH)
_HEADERS = [(b"content-type", b"application/json")]


class _NotForUs(Exception):  # noqa: N818
    """The request goes to FastAPI (with its body replayed)."""


def _takes(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
        return False
    content_type = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return False
        if name == b"content-type":
            content_type = value.lower()
    return content_type in _JSON_TYPES


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when the client went away first (nothing to answer)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(body: bytes):
    # As FastAPI reads it (json.loads of the bytes, then the field's validate_python); any failure is
    # FastAPI's to answer, with its own messages.
    if not body:
        raise _NotForUs
    try:
        return _UPLOAD.validate_python(json.loads(body), from_attributes=True)
    except Exception as exc:
        raise _NotForUs from exc


def _handler(app, exc: Exception):
    for cls in type(exc).__mro__:
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None


class PluginFastPath:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state if "app" in scope else None
        if state is None or not plugin.async_path(state.settings) or not _takes(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return
        try:
            upload = _parse(body)
        except _NotForUs:
            await self.app(scope, replay_body(body, receive), send)
            return
        scope["route"] = _ROUTE  # the metrics label the route's template
        request = Request(scope, receive)
        try:
            await limit_ip(request)
            conversation_id = await plugin.save_anonymous(state, upload)
        except Exception as exc:
            handler = _handler(scope["app"], exc)
            if handler is None:
                raise  # the catch-all's logged 500
            response = await handler(request, exc)
            await response(scope, receive, send)
            return
        await _send_saved(send, conversation_id)


async def _send_saved(send: Send, conversation_id: str) -> None:
    # PluginSaved's JSON, as JSONResponse renders it.
    body = json.dumps({"message": "Conversation saved successfully", "conversation_id": conversation_id},
                      ensure_ascii=False, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
