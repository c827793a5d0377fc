"""Operator export: every stored (redacted) conversation as JSONL, streamed."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from sharelm_collector import crud
from sharelm_collector.api.deps import require_operator
from sharelm_collector.schemas import problems

router = APIRouter(tags=["export"], responses=problems(401, 403))


@router.get(
    "/v1/export",
    dependencies=[Depends(require_operator)],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One Conversation per line"}},
    summary="Export every conversation as JSONL (operator token)",
)
def export_jsonl(request: Request) -> StreamingResponse:
    db = request.app.state.db
    chunk = request.app.state.settings.export_chunk

    def lines() -> Iterator[bytes]:
        batch: list[str] = []
        for document in crud.iter_documents(db.read_session, chunk):
            batch.append(document)
            if len(batch) >= chunk:
                yield ("\n".join(batch) + "\n").encode()
                batch.clear()
        if batch:
            yield ("\n".join(batch) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")
