"""Dependencies shared by the routes: database session, rate limits, contributor and operator auth."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from sharelm_collector import crud
from sharelm_collector.core import metrics
from sharelm_collector.core.config import Settings
from sharelm_collector.core.security import hash_token, tokens_equal

logger = logging.getLogger("sharelm_collector.db")
_bearer = HTTPBearer(auto_error=False, description="A contributor token from POST /v1/contributors")


# These are async on purpose: FastAPI runs sync dependencies in the thread pool, one hop each. Creating a
# Session does no I/O (it connects on first use, in the endpoint's thread), and by the time it is closed
# the endpoint has committed and handed its connection back.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _close_quietly(session: Session) -> None:
    try:
        session.close()
    except Exception as exc:  # the closing rollback failed: the database went away meanwhile
        # The request has its answer (often sent already: raising now would make uvicorn drop the
        # keep-alive connection under the client's next request); the connection is discarded.
        logger.warning("rollback at the end of a request failed (%s): connection discarded",
                       type(exc).__name__)


async def close_session(session: Session) -> None:
    if session.in_transaction():  # a read, or a write that failed: the closing rollback is database I/O
        await run_in_threadpool(_close_quietly, session)
    else:
        _close_quietly(session)


async def get_session(request: Request) -> AsyncIterator[Session]:
    session = request.app.state.db.session()
    try:
        yield session
    finally:
        await close_session(session)


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    session = request.app.state.db.read_session()
    try:
        yield session
    finally:
        await close_session(session)


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
    """Per client IP: the peer address, or, from a proxy listed in FORWARDED_ALLOW_IPS only, the client
    address it forwards (uvicorn's proxy headers)."""
    wait = request.app.state.limiters["ip"].hit(client_ip(request))
    if wait:
        raise _too_many("ip", wait)


async def limit_signups(request: Request) -> None:
    wait = request.app.state.limiters["signup"].hit(client_ip(request))
    if wait:
        raise _too_many("signup", wait)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _locked_out(request: Request, ip: str, credential: str) -> None:
    """429 while this address, or this credential, has spent its failed-authentication allowance."""
    limiters = request.app.state.limiters
    wait = max(limiters["auth_failures_ip"].blocked(ip),
               limiters["auth_failures_credential"].blocked(credential))
    if wait:
        metrics.RATE_LIMITED.labels("auth_failures").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed authentications from this address or with this credential; retry in "
            f"{wait:.1f} s",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )


def _count_failure(request: Request, ip: str, credential: str) -> None:
    limiters = request.app.state.limiters
    limiters["auth_failures_ip"].hit(ip)
    limiters["auth_failures_credential"].hit(credential)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who presented which token: `resolve_contributor` counts a token it does not know against both."""

    token_hash: str
    ip: str
    request: Request

    def failed(self) -> None:
        _count_failure(self.request, self.ip, "c:" + self.token_hash)


async def _caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None, required: bool
) -> Caller | None:
    if credentials is None:
        if required or "authorization" in request.headers:
            raise _unauthorized("missing or malformed Authorization: Bearer <token> header")
        return None
    token_hash = hash_token(credentials.credentials)
    ip = client_ip(request)
    _locked_out(request, ip, "c:" + token_hash)
    # Limited before the database lookup, keyed by the token: cheap, and a wrong token costs a bucket too.
    wait = request.app.state.limiters["contributor"].hit(token_hash)
    if wait:
        raise _too_many("contributor", wait)
    return Caller(token_hash, ip, request)


async def required_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    return await _caller(request, credentials, required=True)


async def optional_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller | None:
    return await _caller(request, credentials, required=False)


def resolve_contributor(session: Session, caller: Caller) -> str:
    """The id of the contributor holding the token (inside the caller's transaction), or 401 (counted as a
    failed authentication of the caller's address and token)."""
    contributor_id = crud.contributor_by_token_hash(session, caller.token_hash)
    if contributor_id is None:
        caller.failed()
        raise _unauthorized("unknown or revoked token")
    return contributor_id


async def require_operator(
    request: Request, settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    ip = client_ip(request)
    wait = request.app.state.limiters["operator"].hit(ip)
    if wait:
        raise _too_many("operator", wait)
    expected = settings.operator_token
    if expected is None or not expected.get_secret_value():
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="export is disabled: no operator token is set")
    if credentials is None:
        raise _unauthorized("missing Authorization: Bearer <operator token> header")
    # Every wrong operator token counts against one credential, "operator": guessing it is throttled for
    # the whole service, from however many addresses (the CLI export does not go through here).
    _locked_out(request, ip, "operator")
    if not tokens_equal(credentials.credentials, expected.get_secret_value()):
        _count_failure(request, ip, "operator")
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="not the operator token")


CallerDep = Annotated[Caller, Depends(required_caller)]
OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
