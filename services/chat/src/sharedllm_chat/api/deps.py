"""FastAPI dependencies."""

from __future__ import annotations

import secrets

from fastapi import Depends, Header, Request

from sharedllm_chat.api.errors import APIError
from sharedllm_chat.app_state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.chat


def require_api_key(state: AppState = Depends(get_state), authorization: str | None = Header(None)) -> None:
    """Checks the bearer token when the server has an api_key; open otherwise."""
    expected = state.settings.api_key
    if expected is None:
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        raise APIError(
            401, "missing or wrong API key: send Authorization: Bearer <key>", code="invalid_api_key"
        )
