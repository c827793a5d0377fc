"""The FastAPI application. `app` is what uvicorn's workers import; `create_app` builds one from settings."""

from __future__ import annotations

import logging
import weakref
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sharelm_collector import __version__
from sharelm_collector.api.fastpath import PluginFastPath
from sharelm_collector.api.main import api_router
from sharelm_collector.core import errors, groupcommit
from sharelm_collector.core.bodylimit import BodySizeLimitMiddleware
from sharelm_collector.core.config import Settings, get_settings
from sharelm_collector.core.db import Database
from sharelm_collector.core.health import DatabaseHealth
from sharelm_collector.core.metrics import MetricsMiddleware
from sharelm_collector.core.ratelimit import per_worker

# The routes a browser may call cross-origin: the public plugin's upload (its extension has no host
# permission, so its POST is a CORS request). Everything else, export and erase-me included, answers no CORS
# header at all, so no web page can read it with a visitor's token. (Our own extension calls /v1 from its
# service worker under host permissions, which CORS does not apply to.)
CORS_PATHS = frozenset({"/api/endpoint"})


class PathScopedCORS:
    """CORSMiddleware on `paths` only."""

    def __init__(self, app: ASGIApp, paths: frozenset[str], **cors):
        self.app = app
        self.paths = paths
        self.cors = CORSMiddleware(app, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _configure_logging() -> None:
    """The service's own log lines (database trouble, skipped export rows, unexpected errors) go to stderr
    next to uvicorn's, whatever uvicorn's log level."""
    log = logging.getLogger("sharelm_collector")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    _configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        groupcommit.close_all(app.state)
        app.state.db.dispose()

    app = FastAPI(
        title="ShareLM collector",
        version=__version__,
        description="Receives shared conversations (the public ShareLM plugin's format and the sharelm "
        "schema), redacts them, stores them, and exports them as a Hugging Face dataset.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.db_health = health = DatabaseHealth()
    app.state.group_committers = weakref.WeakKeyDictionary()  # per event loop (core.groupcommit)
    # A committed write means the database takes writes again (e.g. after a full disk was cleared).
    app.state.db.after_write_commit(lambda _session: health.succeeded())
    workers = settings.workers
    app.state.limiters = {
        "ip": per_worker(settings.rate_limit_per_ip, workers),
        "contributor": per_worker(settings.rate_limit_per_contributor, workers),
        "signup": per_worker(settings.rate_limit_signups_per_ip, workers),
        "operator": per_worker(settings.rate_limit_operator_per_ip, workers),
        "auth_failures_ip": per_worker(settings.rate_limit_auth_failures_per_ip, workers),
        "auth_failures_credential": per_worker(settings.rate_limit_auth_failures_per_credential, workers),
    }
    app.include_router(api_router)
    errors.install(app)
    # The last added is the outermost. The catch-all is innermost, so the metrics, the body cap and CORS see
    # its 500 as an ordinary answer; CORS headers go on the plugin route's every answer (a 413 included), and
    # the metrics count the body cap's refusals.
    # Innermost: the plugin's anonymous upload on PostgreSQL as plain ASGI (api.fastpath), inside every
    # middleware the route has.
    app.add_middleware(PluginFastPath)
    app.add_middleware(errors.CatchAllMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       drain_max_bytes=settings.drain_max_bytes, drain_timeout_s=settings.drain_timeout_s)
    app.add_middleware(MetricsMiddleware)
    # Browser extensions post from chrome-extension:// origins; auth is a bearer header, not a cookie.
    app.add_middleware(
        PathScopedCORS, paths=CORS_PATHS, allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["POST"], allow_headers=["Authorization", "Content-Type"],
    )
    return app


def __getattr__(name: str):
    # `sharelm_collector.main:app` for uvicorn, built on first access so importing the module is side-effect
    # free (tests and the CLI build their own apps from explicit settings).
    if name == "app":
        globals()["app"] = application = create_app()
        return application
    raise AttributeError(name)
