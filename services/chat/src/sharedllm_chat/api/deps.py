"""FastAPI dependencies."""

from __future__ import annotations

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sharedllm_chat.api.errors import APIError
from sharedllm_chat.api.identity import Caller, KeyRing
from sharedllm_chat.app_state import AppState

SECRET_HEADER = "X-Conversation-Secret"


def get_state(request: Request) -> AppState:
    return request.app.state.chat


_bearer = HTTPBearer(
    auto_error=False, description="a per-user API key, or the shared one (when the server has keys)"
)


def get_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Caller:
    """The caller, by bearer token: a per-user key's user, or anonymous (open server, shared key)."""
    keys: KeyRing = request.app.state.keys
    caller = keys.caller(credentials.credentials if credentials is not None else None)
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
