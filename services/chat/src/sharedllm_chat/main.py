"""The FastAPI app: `create_app(settings)` loads the model (or takes a loaded one) and wires the routers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from sharedllm_chat.api.deps import get_caller
from sharedllm_chat.api.errors import install_error_handlers
from sharedllm_chat.api.identity import KeyRing
from sharedllm_chat.api.middleware.body_limit import BodyLimitMiddleware
from sharedllm_chat.api.middleware.server_errors import ServerErrorMiddleware
from sharedllm_chat.api.openapi import install_openapi
from sharedllm_chat.api.routes import chat, conversations, health, models
from sharedllm_chat.app_state import AppState
from sharedllm_chat.engine.loader import LoadedModel, load_model
from sharedllm_chat.settings import Settings


def create_app(settings: Settings | None = None, loaded: LoadedModel | None = None) -> FastAPI:
    """Raises ValueError (naming the setting) when the API keys are unusable."""
    settings = settings or Settings()
    keys = KeyRing.from_settings(settings)  # before loading a model: a bad key file fails at once

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = AppState(settings, loaded or load_model(settings))
        state.start()
        app.state.chat = state
        try:
            yield
        finally:
            await state.aclose()

    app = FastAPI(
        title="sharedllm-chat",
        version="0.1.0",
        lifespan=lifespan,
        description="OpenAI-compatible chat completions served by a SharedLLM model",
    )
    app.state.keys = keys
    install_error_handlers(app)
    for router in (chat.router, models.router, conversations.router):
        app.include_router(router, dependencies=[Depends(get_caller)])
    app.include_router(health.router)
    install_openapi(app, settings)
    # The last added runs first: errors are caught outside the body cap, so its own failures answer too.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        drain_bytes=settings.body_drain_bytes,
        drain_s=settings.body_drain_s,
    )
    app.add_middleware(ServerErrorMiddleware)
    return app
