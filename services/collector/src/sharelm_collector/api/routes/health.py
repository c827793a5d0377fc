"""Liveness, readiness (database reachable and migrated to head) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sharelm_collector.core import metrics
from sharelm_collector.core.migrate import current_revision, head_revision
from sharelm_collector.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable or not migrated"}},
    summary="The database is reachable and migrated to the latest revision",
)
def readyz(request: Request) -> Response:
    engine = request.app.state.db.read_engine  # not the writer: readiness must not queue behind writes
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except Exception as exc:  # any database failure means "not ready", reported, not raised
        body = Health(status="unavailable", database=f"{type(exc).__name__}: {exc}"[:300])
        return JSONResponse(body.model_dump(), status_code=503)
    head = head_revision()
    ok = revision == head
    body = Health(status="ok" if ok else "not migrated", database=engine.dialect.name, revision=revision)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (all workers)")
def prometheus_metrics() -> Response:
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
