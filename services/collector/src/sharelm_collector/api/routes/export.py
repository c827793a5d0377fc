"""Operator export: every stored (redacted) conversation as JSONL, streamed. A stored row that does not
validate as `sharelm.Conversation` (stored by an older version, or under larger caps than the schema's
now) is skipped, never emitted, and reported: logged with its row id, and counted in the metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from sharelm import Conversation
from sharelm_collector import crud
from sharelm_collector.api.deps import require_operator
from sharelm_collector.core import metrics
from sharelm_collector.schemas import problems

logger = logging.getLogger("sharelm_collector.export")

router = APIRouter(tags=["export"], responses=problems(401, 403, 429, 503))


def valid_documents(session_factory, chunk: int, skipped: list[int]) -> Iterator[str]:
    """The stored documents that validate, in row order; the ids of those that do not go to `skipped`."""
    for row_id, document in crud.iter_rows(session_factory, chunk):
        try:
            Conversation.model_validate_json(document)
        except ValidationError as exc:
            skipped.append(row_id)
            first = exc.errors(include_url=False)[0]
            logger.warning("export: skipped row %d, it fails the schema: %s at %s", row_id,
                           first["msg"], ".".join(map(str, first["loc"])))
            continue
        yield document


@router.get(
    "/v1/export",
    dependencies=[Depends(require_operator)],
    response_class=StreamingResponse,
    operation_id="export_jsonl",
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One Conversation per line"}},
    summary="Export every conversation as JSONL (operator token)",
)
def export_jsonl(request: Request) -> StreamingResponse:
    db = request.app.state.db
    chunk = request.app.state.settings.export_chunk

    def lines() -> Iterator[bytes]:
        skipped: list[int] = []
        batch: list[str] = []
        for document in valid_documents(db.read_session, chunk, skipped):
            batch.append(document)
            if len(batch) >= chunk:
                yield ("\n".join(batch) + "\n").encode()
                batch.clear()
        if batch:
            yield ("\n".join(batch) + "\n").encode()
        if skipped:
            metrics.EXPORT_SKIPPED.inc(len(skipped))
            logger.warning("export: %d stored rows skipped (they fail the schema): row ids %s",
                           len(skipped), skipped[:20])

    return StreamingResponse(lines(), media_type="application/x-ndjson")
