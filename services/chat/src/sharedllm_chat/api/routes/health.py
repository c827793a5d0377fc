"""Liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sharedllm_chat.api.deps import get_state
from sharedllm_chat.app_state import AppState

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: AppState = Depends(get_state)) -> dict:
    waiting, running = state.scheduler.depth
    return {"status": "ok", "model": state.loaded.name, "waiting": waiting, "running": running}


@router.get("/metrics", include_in_schema=False)
def metrics(state: AppState = Depends(get_state)) -> Response:
    state.refresh_gauges()
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
