"""Bad input is a 4xx naming the field, never a 500. Validation errors do not echo the input back (it may be
the very PII we would have redacted), size caps become 413s, and a body that is not JSON is a 400. Database
trouble is a 503 (retry later; logged, and reported by /readyz), a lost race or a refused overwrite a 409:
never an acknowledgement. An unexpected exception is a logged 500 that leaves the connection usable."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharelm_collector.core.health import DISK_FULL
from sharelm_collector.core.keys import NotMigrated
from sharelm_collector.ingest import InvalidContribution, NotAnExtension, OverCap

logger = logging.getLogger("sharelm_collector")

_CAP_MARKER = "over the cap"
# FastAPI's answer to a JSON body that is not UTF-8 (or otherwise cannot be read).
_FASTAPI_PARSE_ERROR = "There was an error parsing the body"


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
            for e in errors]


def _undecodable(errors: list[Any]) -> str | None:
    """Why the body could not be read as JSON at all (a 400), or None (then it is a 422 or 413)."""
    for e in errors:
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error", "")
            at = f" at character {loc[1]}" if len(loc) > 1 else ""
            return f"body is not valid JSON: {reason}{at}"
        if loc == ("body",) and isinstance(e.get("input"), bytes | bytearray):
            # FastAPI hands the raw bytes on when the Content-Type is not JSON.
            return "body is not JSON: send it as UTF-8 JSON with Content-Type: application/json"
    return None


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    if (reason := _undecodable(raw)) is not None:
        return JSONResponse({"detail": reason}, status_code=status.HTTP_400_BAD_REQUEST)
    errors = _clean(raw)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if any(_CAP_MARKER in e["msg"] for e in errors):
        code = status.HTTP_413_CONTENT_TOO_LARGE
    return JSONResponse({"detail": errors}, status_code=code)


async def _http_exception(request: Request, exc: StarletteHTTPException):
    if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_ERROR:
        return JSONResponse({"detail": "body could not be decoded: it must be UTF-8 JSON"}, status_code=400)
    return await http_exception_handler(request, exc)


def _field_error(loc, msg: str, code: int) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": list(loc), "msg": msg, "type": "value_error"}]}, status_code=code)


async def _invalid_contribution(_: Request, exc: InvalidContribution) -> JSONResponse:
    too_large = _CAP_MARKER in exc.msg
    code = status.HTTP_413_CONTENT_TOO_LARGE if too_large else status.HTTP_422_UNPROCESSABLE_CONTENT
    return _field_error(exc.loc, exc.msg, code)


async def _over_cap(_: Request, exc: OverCap) -> JSONResponse:
    return _field_error(exc.loc, exc.msg, status.HTTP_413_CONTENT_TOO_LARGE)


async def _not_an_extension(_: Request, exc: NotAnExtension) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


async def _conflict(_: Request, exc: IntegrityError) -> JSONResponse:
    # e.g. the contributor erased themselves while this request was writing on their behalf.
    return JSONResponse({"detail": "conflicting concurrent change; nothing was stored, retry"},
                        status_code=status.HTTP_409_CONFLICT)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is down, saturated, frozen or out of disk: nothing was acknowledged; retry later.
    kind = request.app.state.db_health.failed(exc, f"{request.method} {request.url.path}")
    what = "database disk full" if kind == DISK_FULL else f"database {kind}"
    return JSONResponse({"detail": f"{what} ({type(exc).__name__}); nothing was stored, retry later"},
                        status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})


async def _not_migrated(request: Request, exc: NotMigrated) -> JSONResponse:
    logger.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "database not migrated to this version; retry later"},
                        status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})


async def _not_storable(_: Request, exc: DataError) -> JSONResponse:
    # A value the database rejects (checked for before writing; this is the net under those checks).
    return _field_error(("body",), "a value cannot be stored as given", status.HTTP_422_UNPROCESSABLE_CONTENT)


class CatchAllMiddleware:
    """Turns an unexpected exception into a logged 500 answer, so that it never reaches Starlette's
    ServerErrorMiddleware: that one answers 500 too but then re-raises, and uvicorn, seeing the exception
    after a response, closes the keep-alive connection under the client's next request (a reset)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if started:  # a response is half sent (a streamed export): only closing can tell the client
                raise
            body = json.dumps({"detail": "internal error; it is logged"}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(InvalidContribution, _invalid_contribution)
    app.add_exception_handler(OverCap, _over_cap)
    app.add_exception_handler(NotAnExtension, _not_an_extension)
    app.add_exception_handler(NotMigrated, _not_migrated)
    app.add_exception_handler(IntegrityError, _conflict)
    app.add_exception_handler(DataError, _not_storable)
    for exc in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(exc, _unavailable)
