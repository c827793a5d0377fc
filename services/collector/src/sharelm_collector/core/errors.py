"""Bad input is a 4xx naming the field, never a 500. Validation errors do not echo the input back (it may be
the very PII we would have redacted), and size caps the schema enforces become 413s."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidContribution, _invalid_contribution)
