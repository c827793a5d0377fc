"""Errors in OpenAI's body shape, `{"error": {"message", "type", "param", "code"}}`, for every 4xx."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sharedllm_chat.schemas.openai import ErrorDetail, ErrorResponse

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    500: "server_error",
    429: "rate_limit_error",
}


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    detail = ErrorDetail(message=message, type=_TYPES.get(status, "server_error"), param=param, code=code)
    return ErrorResponse(error=detail).model_dump()


def error_json(status: int, message: str, param: str | None = None, code: str | None = None) -> bytes:
    return json.dumps(
        error_body(status, message, param, code)
    ).encode()  # ASCII: echoed input cannot break it


class ErrorJSONResponse(JSONResponse):
    def render(self, content) -> bytes:
        return json.dumps(content).encode()


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    parts, first_param = [], None
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        loc = loc[1:] if loc and loc[0] in ("body", "header", "path", "query") else loc
        param = ".".join(loc) or None
        first_param = first_param or param
        msg = err.get("msg", "invalid value").removeprefix("Value error, ")
        parts.append(f"{param}: {msg}" if param else msg)
    return "; ".join(parts) or "invalid request", first_param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return ErrorJSONResponse(
            error_body(exc.status, exc.message, exc.param, exc.code), status_code=exc.status
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # OpenAI answers malformed requests with 400, not FastAPI's 422.
        message, param = _validation_message(exc)
        return ErrorJSONResponse(error_body(400, message, param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return ErrorJSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def conversation_not_found(conversation_id: str) -> APIError:
    # The same answer for "never served", "forgotten" and "someone else's": ids are nobody's oracle.
    return APIError(
        404,
        f"conversation '{conversation_id}' is not known to this server for this caller (never served, "
        "dropped from its memory, or started by someone else: a caller without a per-user API key sends "
        "the X-Conversation-Secret header its first turn returned)",
        param="conversation_id",
        code="conversation_not_found",
    )
