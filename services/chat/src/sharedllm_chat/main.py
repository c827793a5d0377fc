"""The FastAPI app: `create_app(settings)` loads the model (or takes a loaded one) and wires the routers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from sharedllm_chat.api.deps import require_api_key
from sharedllm_chat.api.errors import install_error_handlers
from sharedllm_chat.api.routes import chat, conversations, health, models
from sharedllm_chat.app_state import AppState
from sharedllm_chat.engine.loader import LoadedModel, load_model
from sharedllm_chat.settings import Settings


def create_app(settings: Settings | None = None, loaded: LoadedModel | None = None) -> FastAPI:
    settings = settings or Settings()

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
    install_error_handlers(app)
    for router in (chat.router, models.router, conversations.router):
        app.include_router(router, dependencies=[Depends(require_api_key)])
    app.include_router(health.router)
    return app
