"""Bad input is a 4xx naming the field, never a 500. Validation errors do not echo the input back (it may be
the very PII we would have redacted), and size caps the schema enforces become 413s. Database trouble is a
503 (retry later), a lost race a 409: never an acknowledgement."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from sharelm_collector.ingest import InvalidContribution

_CAP_MARKER = "over the cap"


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
            for e in errors]


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _clean(exc.errors())
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if any(_CAP_MARKER in e["msg"] for e in errors):
        code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    return JSONResponse({"detail": errors}, status_code=code)


async def _invalid_contribution(_: Request, exc: InvalidContribution) -> JSONResponse:
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if _CAP_MARKER in exc.msg:
        code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    return JSONResponse({"detail": [{"loc": list(exc.loc), "msg": exc.msg, "type": "value_error"}]},
                        status_code=code)


async def _conflict(_: Request, exc: IntegrityError) -> JSONResponse:
    # e.g. the contributor erased themselves while this request was writing on their behalf.
    return JSONResponse({"detail": "conflicting concurrent change; nothing was stored, retry"},
                        status_code=status.HTTP_409_CONFLICT)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    # The database is down or saturated: nothing was acknowledged; the client should retry later.
    return JSONResponse({"detail": f"database unavailable ({type(exc).__name__}); retry later"},
                        status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})


async def _not_storable(_: Request, exc: DataError) -> JSONResponse:
    # A value the database rejects (checked for before writing; this is the net under those checks).
    return JSONResponse({"detail": [{"loc": ["body"], "msg": "a value cannot be stored as given",
                                     "type": "value_error"}]},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidContribution, _invalid_contribution)
    app.add_exception_handler(IntegrityError, _conflict)
    app.add_exception_handler(DataError, _not_storable)
    for exc in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(exc, _unavailable)
