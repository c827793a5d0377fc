"""The OpenAPI document says what the service really answers: 400 for invalid input (never FastAPI's 422,
which the error handlers turn into 400), and the errors every /v1 route can give (401 with keys, 413 over
the body cap, 500)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sharedllm_chat.api.routes.responses import errors
from sharedllm_chat.settings import Settings

_EVERY_V1_ROUTE = (400, 401, 413, 500)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = _limits(_fix(spec), settings)
        return app.openapi_schema

    app.openapi = openapi


def _limits(spec: dict, settings: Settings) -> dict:
    """This server's own values: the one model it serves, its max_tokens limit."""
    fields = spec["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    fields["model"]["enum"] = [settings.served_model_name]
    for name in ("max_tokens", "max_completion_tokens"):
        for option in fields[name].get("anyOf", [fields[name]]):
            if option.get("type") == "integer":
                option["maximum"] = settings.max_tokens_limit
    return spec


def _fix(spec: dict) -> dict:
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in spec["paths"].items():
        for operation in item.values():
            responses = operation["responses"]
            responses.pop("422", None)
            if not path.startswith("/v1/"):
                continue
            for code, doc in errors(*_EVERY_V1_ROUTE).items():
                responses.setdefault(
                    str(code),
                    {
                        "description": doc["description"],
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec
