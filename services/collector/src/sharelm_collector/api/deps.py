"""Dependencies shared by the routes: database session, rate limits, contributor and operator auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from sharelm_collector import crud
from sharelm_collector.core import metrics
from sharelm_collector.core.config import Settings
from sharelm_collector.core.security import hash_token, tokens_equal

_bearer = HTTPBearer(auto_error=False, description="A contributor token from POST /v1/contributors")


# These are async on purpose: FastAPI runs sync dependencies in the thread pool, one hop each. Creating a
# Session does no I/O (it connects on first use, in the endpoint's thread), and by the time it is closed
# the endpoint has committed and handed its connection back.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def _close(session: Session) -> None:
    if session.in_transaction():  # the endpoint failed mid-transaction: the rollback is database I/O
        await run_in_threadpool(session.close)
    else:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    session = request.app.state.db.session()
    try:
        yield session
    finally:
        await _close(session)


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    session = request.app.state.db.read_session()
    try:
        yield session
    finally:
        await _close(session)


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _too_many(scope: str, wait: float) -> HTTPException:
    metrics.RATE_LIMITED.labels(scope).inc()
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"rate limit per {scope} exceeded; retry in {wait:.1f} s",
        headers={"Retry-After": str(max(1, round(wait + 0.5)))},
    )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_ip(request: Request) -> None:
    """Per client IP (uvicorn's --proxy-headers makes this the real client behind a trusted proxy)."""
    wait = request.app.state.limiters["ip"].hit(client_ip(request))
    if wait:
        raise _too_many("ip", wait)


async def limit_signups(request: Request) -> None:
    wait = request.app.state.limiters["signup"].hit(client_ip(request))
    if wait:
        raise _too_many("ip", wait)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def _token_hash(
    request: Request, credentials: HTTPAuthorizationCredentials | None, required: bool
) -> str | None:
    if credentials is None:
        if required or "authorization" in request.headers:
            raise _unauthorized("missing or malformed Authorization: Bearer <token> header")
        return None
    token_hash = hash_token(credentials.credentials)
    # Limited before the database lookup, keyed by the token: cheap, and a wrong token costs a bucket too.
    wait = request.app.state.limiters["contributor"].hit(token_hash)
    if wait:
        raise _too_many("contributor", wait)
    return token_hash


async def required_token_hash(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    return await _token_hash(request, credentials, required=True)


async def optional_token_hash(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str | None:
    return await _token_hash(request, credentials, required=False)


def resolve_contributor(session: Session, token_hash: str) -> str:
    """The id of the contributor holding the token (inside the caller's transaction), or 401."""
    contributor_id = crud.contributor_by_token_hash(session, token_hash)
    if contributor_id is None:
        raise _unauthorized("unknown or revoked token")
    return contributor_id


async def require_operator(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected = settings.operator_token
    if expected is None or not expected.get_secret_value():
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="export is disabled: no operator token is set")
    if credentials is None:
        raise _unauthorized("missing Authorization: Bearer <operator token> header")
    if not tokens_equal(credentials.credentials, expected.get_secret_value()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="not the operator token")


TokenHash = Annotated[str, Depends(required_token_hash)]
OptionalTokenHash = Annotated[str | None, Depends(optional_token_hash)]
