"""Liveness, readiness (database reachable, migrated to head, writable) and Prometheus metrics.

/readyz needs no token, so its answer names no host, port, path or driver message: only the state and its
kind ("unavailable", "timeout", "disk full", "not migrated"). The details go to the log, once per change."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sharelm_collector.core import metrics
from sharelm_collector.core.health import DISK_FULL, classify, describe, free_bytes
from sharelm_collector.core.migrate import current_revision, head_revision
from sharelm_collector.schemas import Health

router = APIRouter(tags=["operations"])
logger = logging.getLogger("sharelm_collector.db")


@router.get("/healthz", response_model=Health, operation_id="healthz", summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


def _report(request: Request, state: str, detail: str | None = None) -> None:
    """Log readiness changes (not every probe)."""
    last = getattr(request.app.state, "readiness", "ok")
    if state != last:
        request.app.state.readiness = state
        if state == "ok":
            logger.warning("ready again")
        else:
            logger.error("not ready: %s%s", state, f" ({detail})" if detail else "")


@router.get(
    "/readyz",
    response_model=Health,
    operation_id="readyz",
    responses={503: {"model": Health, "description": "Database unreachable, timed out, out of disk space "
                     "or not migrated; see Retry-After"}},
    summary="The database is reachable, migrated to the latest revision and writable",
)
def readyz(request: Request) -> Response:
    db = request.app.state.db
    engine = db.read_engine  # not the writer: readiness must not queue behind writes
    dialect = engine.dialect.name

    def not_ready(state: str, detail: str | None = None, revision: str | None = None) -> Response:
        _report(request, state, detail)
        body = Health(status=state, database=dialect, revision=revision)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})

    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except Exception as exc:  # any database failure means "not ready", reported, not raised
        return not_ready(classify(exc), describe(exc))
    if revision != head_revision():
        detail = f"at revision {revision}, the code needs {head_revision()}"
        return not_ready("not migrated", detail, revision)
    if (path := db.sqlite_path) is not None:
        free = free_bytes(path)
        if free is not None and free < db.settings.min_free_disk_bytes:
            return not_ready(DISK_FULL, f"{free} bytes free next to {path}", revision)
    if request.app.state.db_health.current() == DISK_FULL:
        # The probe above only reads, and writes failed for want of space: try one (it clears the state).
        try:
            db.probe_write()
        except Exception as exc:
            return not_ready(classify(exc), describe(exc), revision)
    _report(request, "ok")
    return JSONResponse(Health(status="ok", database=dialect, revision=revision).model_dump())


@router.get("/metrics", response_class=Response, operation_id="metrics",
            summary="Prometheus metrics (all workers)")
def prometheus_metrics() -> Response:
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
