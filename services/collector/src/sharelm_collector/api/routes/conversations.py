"""A contributor's own conversations: upload (idempotent), read, list, rate, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from sharelm import Conversation
from sharelm_collector import crud, ingest
from sharelm_collector.api.deps import (
    CallerDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    limit_ip,
    resolve_contributor,
)
from sharelm_collector.core import metrics
from sharelm_collector.core.security import contributor_owner, decode_cursor, encode_cursor
from sharelm_collector.schemas import (
    BatchSaved,
    ConversationBatch,
    ConversationPage,
    ConversationSaved,
    RatingUpdate,
    batch_cap,
    problems,
)

router = APIRouter(
    prefix="/v1/conversations", tags=["conversations"], dependencies=[Depends(limit_ip)],
    responses=problems(400, 401, 404, 413, 429, 503),
)

ConversationId = Annotated[str, Path(min_length=1, max_length=ingest.MAX_ID_CHARS, pattern=ingest.ID_PATTERN)]

# OpenAPI links: what a client (and the stateful fuzzer) can do next with the id an upload answers.
_ID_LINKS = {
    op: {"operationId": op_id, "parameters": {"conversation_id": "$response.body#/conversation_id"}}
    for op, op_id in (("GetConversation", "get_conversation"), ("RateConversation", "rate_conversation"),
                      ("DeleteConversation", "delete_conversation"))
}


def _not_found(conversation_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no conversation {conversation_id!r} of yours")


def _json(document: str) -> Response:
    # Stored documents are exactly `Conversation.model_dump_json()`: sent as they are, not parsed again.
    return Response(document, media_type="application/json")


def _store(session, contributor_id: str, conv: Conversation, loc=("body",)) -> ConversationSaved:
    conv, document = ingest.document(conv, user_id=contributor_id, loc=loc)
    saved = crud.upsert_conversation(
        session, owner=contributor_owner(contributor_id), contributor_id=contributor_id,
        conversation_id=conv.conversation_id, source=ingest.source_label(conv.source), document=document,
    )
    return ConversationSaved(conversation_id=conv.conversation_id, status=saved)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationSaved,
    operation_id="save_conversation",
    responses={
        200: {"model": ConversationSaved, "description": "An earlier version was replaced",
              "links": _ID_LINKS},
        201: {"description": "Stored", "links": _ID_LINKS},
    },
    summary="Upload a conversation; re-posting the same conversation_id replaces it",
)
def save_conversation(
    conversation: ingest.CappedConversation, response: Response, session: SessionDep, caller: CallerDep
) -> ConversationSaved:
    conversation = ingest.redacted(conversation)
    contributor_id = resolve_contributor(session, caller)
    saved = _store(session, contributor_id, conversation)
    session.commit()  # acknowledged only once committed
    metrics.STORED.labels(saved.status).inc()
    if saved.status == "replaced":
        response.status_code = status.HTTP_200_OK
    return saved


@router.post("/batch", response_model=BatchSaved, operation_id="save_batch",
             dependencies=[Depends(batch_cap)], summary="Upload several conversations atomically")
def save_batch(
    batch: ConversationBatch, session: SessionDep, settings: SettingsDep, caller: CallerDep
) -> BatchSaved:
    if len(batch.conversations) > settings.max_batch:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            detail=f"batch has {len(batch.conversations)} conversations, over the cap of "
            f"{settings.max_batch}",
        )
    convs = []
    for i, conv in enumerate(batch.conversations):
        try:
            convs.append(ingest.redacted(conv))
            ingest.serialise(conv)  # fail on unencodable text before the transaction starts
        except ingest.InvalidContribution as exc:
            exc.loc = ("body", "conversations", i, *exc.loc[1:])
            raise
    contributor_id = resolve_contributor(session, caller)
    results = [_store(session, contributor_id, conv, ("body", "conversations", i))
               for i, conv in enumerate(convs)]
    session.commit()
    for saved in results:
        metrics.STORED.labels(saved.status).inc()
    return BatchSaved(results=results)


@router.get("", response_model=ConversationPage, operation_id="list_conversations",
            summary="My conversations, oldest first")
def list_conversations(
    request: Request,
    session: ReadSessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=32,
                                        description="the previous page's next_cursor")] = None,
) -> Response:
    contributor_id = resolve_contributor(session, caller)
    key, owner = request.app.state.db.keys.get(), contributor_owner(contributor_id)
    after = 0
    if cursor:
        after = decode_cursor(key, owner, cursor)
        if after is None:
            raise ingest.InvalidContribution(("query", "cursor"), "cursor is not one this service issued")
    rows = crud.list_conversations(session, contributor_id, after=after, limit=limit)
    next_cursor = encode_cursor(key, owner, rows[-1].id) if len(rows) == limit else None
    page = ",".join(r.document for r in rows)
    tail = "null" if next_cursor is None else f'"{next_cursor}"'
    return _json(f'{{"conversations":[{page}],"next_cursor":{tail}}}')


@router.get("/{conversation_id}", response_model=Conversation, operation_id="get_conversation",
            summary="One of my conversations")
def get_conversation(
    conversation_id: ConversationId, session: ReadSessionDep, caller: CallerDep
) -> Response:
    ingest.check_conversation_id(conversation_id, ("path", "conversation_id"))
    contributor_id = resolve_contributor(session, caller)
    row = crud.get_conversation(session, contributor_id, conversation_id)
    if row is None:
        raise _not_found(conversation_id)
    return _json(row.document)


@router.patch(
    "/{conversation_id}/rating",
    response_model=Conversation,
    operation_id="rate_conversation",
    summary="Rate one of my conversations (thumbs) and its responses (-1/0/1 each)",
)
def rate_conversation(
    conversation_id: ConversationId, rating: RatingUpdate, session: SessionDep, caller: CallerDep
) -> Response:
    ingest.check_conversation_id(conversation_id, ("path", "conversation_id"))
    contributor_id = resolve_contributor(session, caller)
    row = crud.get_conversation(session, contributor_id, conversation_id)
    if row is None:
        raise _not_found(conversation_id)
    # Read without the caps (a row stored under larger caps can still be rated); written back only if it
    # validates with them (ingest.storable).
    stored = Conversation.model_validate_json(row.document, context=ingest.NO_CAPS)
    meta = stored.conversation_metadata.model_copy()
    if "rate" in rating.model_fields_set:
        meta.rate = rating.rate
    if rating.message_ratings is not None:
        n, turns = len(rating.message_ratings), stored.num_assistant_turns
        if n > turns:
            raise ingest.InvalidContribution(
                ("body", "message_ratings"),
                f"{n} ratings but the conversation has only {turns} assistant messages")
        meta.message_ratings = rating.message_ratings
    document = ingest.storable(ingest.serialise(stored.model_copy(update={"conversation_metadata": meta})))
    crud.set_document(session, row.id, document)
    session.commit()
    return _json(document)


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_conversation",
    summary="Delete one of my conversations (gone from the database and every later export)",
)
def delete_conversation(
    conversation_id: ConversationId, request: Request, session: SessionDep, caller: CallerDep
) -> None:
    ingest.check_conversation_id(conversation_id, ("path", "conversation_id"))
    contributor_id = resolve_contributor(session, caller)
    if not crud.delete_conversation(session, contributor_id, conversation_id):
        raise _not_found(conversation_id)
    session.commit()
    request.app.state.db.checkpoint()  # SQLite: the deleted text leaves the WAL too
    metrics.DELETED.inc()
