"""FastAPI dependencies."""

from __future__ import annotations

from fastapi import Header, Request

from sharedllm_chat.api.errors import APIError
from sharedllm_chat.api.identity import Caller, KeyRing
from sharedllm_chat.app_state import AppState

SECRET_HEADER = "X-Conversation-Secret"


def get_state(request: Request) -> AppState:
    return request.app.state.chat


def get_caller(request: Request, authorization: str | None = Header(None)) -> Caller:
    """The caller, by bearer token: a per-user key's user, or anonymous (open server, shared key)."""
    keys: KeyRing = request.app.state.keys
    scheme, _, token = (authorization or "").partition(" ")
    caller = keys.caller(token.strip() if scheme.lower() == "bearer" else None)
    if caller is None:
        raise APIError(
            401, "missing or wrong API key: send Authorization: Bearer <key>", code="invalid_api_key"
        )
    return caller


def get_secret(
    secret: str | None = Header(
        None,
        alias=SECRET_HEADER,
        max_length=200,
        description="the secret a conversation's first turn returned (callers without a per-user key)",
    ),
) -> str | None:
    return secret
