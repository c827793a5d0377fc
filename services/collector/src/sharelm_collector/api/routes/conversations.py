"""A contributor's own conversations: upload (idempotent), read, list, rate, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import ValidationError

from sharelm import Conversation
from sharelm_collector import crud, ingest
from sharelm_collector.api.deps import (
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    TokenHash,
    limit_ip,
    resolve_contributor,
)
from sharelm_collector.core import metrics
from sharelm_collector.core.security import contributor_owner
from sharelm_collector.schemas import (
    BatchSaved,
    ConversationBatch,
    ConversationPage,
    ConversationSaved,
    RatingUpdate,
    problems,
)

router = APIRouter(
    prefix="/v1/conversations", tags=["conversations"], dependencies=[Depends(limit_ip)],
    responses=problems(400, 401, 404, 413, 429),
)

ConversationId = Annotated[str, Path(min_length=1, max_length=ingest.MAX_ID_CHARS)]
MAX_CURSOR = 2**62


def _not_found(conversation_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no conversation {conversation_id!r} of yours")


def _store(session, contributor_id: str, conv: Conversation) -> ConversationSaved:
    conv, document = ingest.document(conv, user_id=contributor_id)
    saved = crud.upsert_conversation(
        session, owner=contributor_owner(contributor_id), contributor_id=contributor_id,
        conversation_id=conv.conversation_id, source=ingest.source_label(conv.source), document=document,
    )
    return ConversationSaved(conversation_id=conv.conversation_id, status=saved)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationSaved,
    responses={200: {"model": ConversationSaved, "description": "An earlier version was replaced"}},
    summary="Upload a conversation; re-posting the same conversation_id replaces it",
)
def save_conversation(
    conversation: Conversation, response: Response, session: SessionDep, token_hash: TokenHash
) -> ConversationSaved:
    conversation = ingest.redacted(conversation)
    contributor_id = resolve_contributor(session, token_hash)
    saved = _store(session, contributor_id, conversation)
    session.commit()  # acknowledged only once committed
    metrics.STORED.labels(saved.status).inc()
    if saved.status == "replaced":
        response.status_code = status.HTTP_200_OK
    return saved


@router.post("/batch", response_model=BatchSaved, summary="Upload several conversations atomically")
def save_batch(
    batch: ConversationBatch, session: SessionDep, settings: SettingsDep, token_hash: TokenHash
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
    contributor_id = resolve_contributor(session, token_hash)
    results = [_store(session, contributor_id, conv) for conv in convs]
    session.commit()
    for saved in results:
        metrics.STORED.labels(saved.status).inc()
    return BatchSaved(results=results)


@router.get("", response_model=ConversationPage, summary="My conversations, oldest first")
def list_conversations(
    session: ReadSessionDep,
    token_hash: TokenHash,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=32, description="the previous page's next_cursor")] = None,
) -> ConversationPage:
    after = 0
    if cursor:
        if not cursor.isdigit() or int(cursor) > MAX_CURSOR:
            raise ingest.InvalidContribution(("query", "cursor"), "cursor is not one this service issued")
        after = int(cursor)
    contributor_id = resolve_contributor(session, token_hash)
    rows = crud.list_conversations(session, contributor_id, after=after, limit=limit)
    return ConversationPage(
        conversations=[Conversation.model_validate_json(r.document) for r in rows],
        next_cursor=str(rows[-1].id) if len(rows) == limit else None,
    )


@router.get("/{conversation_id}", response_model=Conversation, summary="One of my conversations")
def get_conversation(
    conversation_id: ConversationId, session: ReadSessionDep, token_hash: TokenHash
) -> Conversation:
    ingest.check_conversation_id(conversation_id, ("path", "conversation_id"))
    contributor_id = resolve_contributor(session, token_hash)
    row = crud.get_conversation(session, contributor_id, conversation_id)
    if row is None:
        raise _not_found(conversation_id)
    return Conversation.model_validate_json(row.document)


@router.patch(
    "/{conversation_id}/rating",
    response_model=Conversation,
    summary="Rate one of my conversations (thumbs) and its responses (-1/0/1 each)",
)
def rate_conversation(
    conversation_id: ConversationId, rating: RatingUpdate, session: SessionDep, token_hash: TokenHash
) -> Conversation:
    ingest.check_conversation_id(conversation_id, ("path", "conversation_id"))
    contributor_id = resolve_contributor(session, token_hash)
    row = crud.get_conversation(session, contributor_id, conversation_id)
    if row is None:
        raise _not_found(conversation_id)
    data = Conversation.model_validate_json(row.document).model_dump()
    meta = data["conversation_metadata"]
    if "rate" in rating.model_fields_set:
        meta["rate"] = rating.rate
    if rating.message_ratings is not None:
        meta["message_ratings"] = rating.message_ratings
    try:
        conv = Conversation.model_validate(data)
    except ValidationError as exc:
        raise ingest.InvalidContribution(("body", "message_ratings"), exc.errors()[0]["msg"]) from None
    crud.set_document(session, row.id, ingest.serialise(conv))
    session.commit()
    return conv


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of my conversations (gone from the database and every later export)",
)
def delete_conversation(conversation_id: ConversationId, session: SessionDep, token_hash: TokenHash) -> None:
    ingest.check_conversation_id(conversation_id, ("path", "conversation_id"))
    contributor_id = resolve_contributor(session, token_hash)
    if not crud.delete_conversation(session, contributor_id, conversation_id):
        raise _not_found(conversation_id)
    session.commit()
    metrics.DELETED.inc()
