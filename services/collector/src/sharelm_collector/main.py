"""The FastAPI application. `app` is what uvicorn's workers import; `create_app` builds one from settings."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from sharelm_collector import __version__
from sharelm_collector.api.main import api_router
from sharelm_collector.core import errors
from sharelm_collector.core.bodylimit import BodySizeLimitMiddleware
from sharelm_collector.core.config import Settings, get_settings
from sharelm_collector.core.db import Database
from sharelm_collector.core.metrics import MetricsMiddleware
from sharelm_collector.core.ratelimit import per_worker


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
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
    app.state.limiters = {
        "ip": per_worker(settings.rate_limit_per_ip, settings.workers),
        "contributor": per_worker(settings.rate_limit_per_contributor, settings.workers),
        "signup": per_worker(settings.rate_limit_signups_per_ip, settings.workers),
    }
    app.include_router(api_router)
    errors.install(app)
    # The last added is the outermost: CORS headers go on every answer (a 413 included), and the metrics
    # count the body cap's refusals.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    # Browser extensions post from chrome-extension:// origins; auth is a bearer header, not a cookie.
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE"], allow_headers=["Authorization", "Content-Type"],
    )
    return app


def __getattr__(name: str):
    # `sharelm_collector.main:app` for uvicorn, built on first access so importing the module is side-effect
    # free (tests and the CLI build their own apps from explicit settings).
    if name == "app":
        globals()["app"] = application = create_app()
        return application
    raise AttributeError(name)
