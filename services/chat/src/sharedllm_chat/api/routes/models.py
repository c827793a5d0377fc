"""`GET /v1/models`: the one model this server serves."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sharedllm_chat.api.deps import get_state
from sharedllm_chat.api.errors import APIError
from sharedllm_chat.api.routes.responses import errors
from sharedllm_chat.app_state import AppState
from sharedllm_chat.schemas.openai import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelList)
def list_models(state: AppState = Depends(get_state)) -> ModelList:
    return ModelList(data=[ModelCard(id=state.loaded.name, created=state.started_at)])


@router.get("/models/{model_id}", response_model=ModelCard, responses=errors(404))
def get_model(model_id: str, state: AppState = Depends(get_state)) -> ModelCard:
    if model_id != state.loaded.name:
        raise APIError(
            404,
            f"model '{model_id}' does not exist; this server serves '{state.loaded.name}'",
            param="model",
            code="model_not_found",
        )
    return ModelCard(id=state.loaded.name, created=state.started_at)
