"""The caller's conversations: read one, rate a reply, opt in to contributing it, delete it.

Each answers 404 alike for an id never served, one forgotten, and one that is someone else's (another
per-user key's, or a secret-bound one without its X-Conversation-Secret).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import ValidationError

from sharedllm_chat.api.deps import get_caller, get_secret, get_state
from sharedllm_chat.api.errors import APIError, conversation_not_found
from sharedllm_chat.api.identity import Caller
from sharedllm_chat.api.routes.responses import CONVERSATION_LINKS, errors
from sharedllm_chat.app_state import AppState
from sharedllm_chat.crud.conversations import ConversationRecord
from sharedllm_chat.schemas.conversations import ContributeIn, ConversationOut, RatingIn
from sharedllm_chat.schemas.fields import ConversationId

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

PathId = Annotated[ConversationId, Path()]
_OK = {200: {"links": CONVERSATION_LINKS}}


def _out(record: ConversationRecord | None, conversation_id: str) -> ConversationOut:
    if record is None:
        raise conversation_not_found(conversation_id)
    return ConversationOut(conversation=record.conversation, contribution=record.contribution)


@router.get(
    "/{conversation_id}",
    response_model=ConversationOut,
    operation_id="getConversation",
    responses={**_OK, **errors(400, 401, 404)},
)
def get_conversation(
    conversation_id: PathId,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(get_caller),
    secret: str | None = Depends(get_secret),
) -> ConversationOut:
    return _out(state.conversations.lookup((caller.owner, conversation_id), secret), conversation_id)


@router.post(
    "/{conversation_id}/rating",
    response_model=ConversationOut,
    operation_id="rateConversation",
    responses={**_OK, **errors(400, 401, 404, 413)},
)
async def rate_conversation(
    conversation_id: PathId,
    rating: RatingIn,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(get_caller),
    secret: str | None = Depends(get_secret),
) -> ConversationOut:
    try:
        record = state.conversations.rate((caller.owner, conversation_id), secret, rating)
    except (ValueError, ValidationError) as exc:
        raise APIError(400, f"rating does not fit the conversation: {exc}", param="message_ratings") from exc
    out = _out(record, conversation_id)
    state.contribute_later(record)
    return out


@router.post(
    "/{conversation_id}/contribute",
    response_model=ConversationOut,
    operation_id="contributeConversation",
    responses={**_OK, **errors(400, 401, 404, 409, 413)},
)
async def contribute_conversation(
    conversation_id: PathId,
    body: ContributeIn,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(get_caller),
    secret: str | None = Depends(get_secret),
) -> ConversationOut:
    key = (caller.owner, conversation_id)
    if state.conversations.lookup(key, secret) is None:
        raise conversation_not_found(conversation_id)
    if body.contribute and state.collector is None:
        raise APIError(
            409,
            "this server has no collector configured (SHAREDLLM_CHAT_COLLECTOR_URL), so it "
            "cannot contribute conversations",
            code="collector_not_configured",
        )
    record = state.conversations.set_opt_in(key, secret, body.contribute)
    out = _out(record, conversation_id)
    state.contribute_later(record)
    return out


@router.delete(
    "/{conversation_id}",
    status_code=204,
    operation_id="deleteConversation",
    responses=errors(400, 401, 404),
)
def delete_conversation(
    conversation_id: PathId,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(get_caller),
    secret: str | None = Depends(get_secret),
) -> Response:
    """Forget the conversation on this server (its record and context cache). A copy already contributed
    stays with the collector, where its contributor token can delete it."""
    key = (caller.owner, conversation_id)
    if state.conversations.delete(key, secret) is None:
        raise conversation_not_found(conversation_id)
    state.forget_context(key)
    return Response(status_code=204)
