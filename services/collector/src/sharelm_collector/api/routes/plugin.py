"""The public ShareLM plugin's upload route, request and answer unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from sharelm_collector import crud, ingest
from sharelm_collector.api.deps import (
    Caller,
    OptionalCallerDep,
    SessionDep,
    close_session,
    limit_ip,
    resolve_contributor,
)
from sharelm_collector.core import groupcommit, metrics
from sharelm_collector.core.security import contributor_owner, plugin_owner, plugin_pseudonym
from sharelm_collector.models import utcnow
from sharelm_collector.schemas import PluginSaved, problems

router = APIRouter(tags=["plugin"], dependencies=[Depends(limit_ip)],
                   responses=problems(400, 401, 409, 413, 429, 503))
_CREATED = metrics.STORED.labels("created")  # the hot path's counter, looked up once


@router.post(
    "/api/endpoint",
    response_model=PluginSaved,
    summary="Upload a conversation in the public plugin's format",
    operation_id="plugin_upload",
    # The token is optional here (anonymous uploads are the public plugin's way): say so in the document.
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
    description="Drop-in for the public ShareLM backend. Without a token the upload is anonymous: it is "
    "matched to earlier uploads by (plugin user_id, conversation_id), and a re-post may only add messages "
    "after the stored ones (409 otherwise); an upload without a user_id never matches another. Its user_id "
    "is stored and exported as a keyed pseudonym, never as sent. With a contributor token it is owned by "
    "that contributor (readable, ratable, deletable and replaceable through /v1; user_id is the "
    "contributor's id).",
)
async def save_plugin_upload(
    upload: ingest.CappedPluginUpload, request: Request, session: SessionDep, caller: OptionalCallerDep
) -> PluginSaved:
    state = request.app.state
    if caller is None and async_path(state.settings):
        return _saved(await save_anonymous(state, upload))
    return await run_in_threadpool(_save, upload, request, session, caller)


def async_path(settings) -> bool:
    return settings.async_path and not settings.is_sqlite


async def save_anonymous(state, upload: ingest.CappedPluginUpload) -> str:
    """An anonymous upload in the event loop (PostgreSQL): redaction and the document's check are CPU work,
    the insert is grouped with the other requests' (core.groupcommit); only a re-post of a stored
    conversation, or a group that failed for one of its rows, takes the thread pool. Returns the
    conversation id once its row is committed."""
    keys = state.db.keys
    key = keys._key if keys._key is not None else await run_in_threadpool(keys.get)
    conv = ingest.redacted(ingest.from_plugin(upload))
    conv, document = ingest.document(conv, user_id=plugin_pseudonym(key, upload.user_id))
    owner, source = plugin_owner(upload.user_id), ingest.source_label(conv.source)
    try:
        created = await groupcommit.for_loop(state).insert_new(
            owner=owner, conversation_id=conv.conversation_id, source=source, document=document, now=utcnow())
    except groupcommit.RetryAlone:
        created = False
    if created:
        _CREATED.inc()
    else:
        session = state.db.session()
        try:
            await run_in_threadpool(_extend_anonymous, session, conv, document, owner, source)
        finally:
            await close_session(session)
    return conv.conversation_id


def _saved(conversation_id: str) -> JSONResponse:
    # PluginSaved's JSON, built without validating our own answer again.
    return JSONResponse({"message": "Conversation saved successfully", "conversation_id": conversation_id})


def _extend_anonymous(session: Session, conv, document: str, owner: str, source: str | None) -> None:
    status = crud.insert_or_extend(
        session, owner=owner, conversation_id=conv.conversation_id, source=source, document=document,
        extends=lambda stored: ingest.extends(conv, stored),
    )
    session.commit()  # acknowledged only once committed
    metrics.STORED.labels(status).inc()


def _save(upload: ingest.CappedPluginUpload, request: Request, session: Session,
          caller: Caller | None) -> JSONResponse:
    """One request, one transaction, in the thread pool (SQLite, authenticated uploads, async path off)."""
    conv = ingest.redacted(ingest.from_plugin(upload))
    if caller is not None:
        contributor_id = resolve_contributor(session, caller)
        conv, document = ingest.document(conv, user_id=contributor_id)  # the caller's identity wins
        status = crud.upsert_conversation(
            session, owner=contributor_owner(contributor_id), contributor_id=contributor_id,
            conversation_id=conv.conversation_id, source=ingest.source_label(conv.source), document=document,
        )
        session.commit()  # acknowledged only once committed
        metrics.STORED.labels(status).inc()
    else:
        pseudonym = plugin_pseudonym(request.app.state.db.keys.get(), upload.user_id)
        conv, document = ingest.document(conv, user_id=pseudonym)
        _extend_anonymous(session, conv, document, plugin_owner(upload.user_id),
                          ingest.source_label(conv.source))
    return _saved(conv.conversation_id)
