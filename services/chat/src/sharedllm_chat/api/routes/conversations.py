"""The conversations served: read one, rate a reply, opt in to contributing it to the ShareLM collection."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import ValidationError

from sharedllm_chat.api.deps import get_state
from sharedllm_chat.api.errors import APIError
from sharedllm_chat.app_state import AppState
from sharedllm_chat.crud.conversations import ConversationRecord
from sharedllm_chat.schemas.conversations import ContributeIn, ConversationOut, RatingIn

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


def _out(record: ConversationRecord | None, conversation_id: str) -> ConversationOut:
    if record is None:
        raise APIError(
            404,
            f"conversation '{conversation_id}' is not known to this server (never served, "
            "or dropped from its memory)",
            param="conversation_id",
            code="conversation_not_found",
        )
    return ConversationOut(conversation=record.conversation, contribution=record.contribution)


@router.get("/{conversation_id}", response_model=ConversationOut)
def get_conversation(conversation_id: str, state: AppState = Depends(get_state)) -> ConversationOut:
    return _out(state.conversations.get(conversation_id), conversation_id)


@router.post("/{conversation_id}/rating", response_model=ConversationOut)
async def rate_conversation(
    conversation_id: str, rating: RatingIn, state: AppState = Depends(get_state)
) -> ConversationOut:
    try:
        record = state.conversations.rate(conversation_id, rating)
    except (ValueError, ValidationError) as exc:
        raise APIError(400, f"rating does not fit the conversation: {exc}", param="message_ratings") from exc
    out = _out(record, conversation_id)
    state.contribute_later(conversation_id)
    return out


@router.post("/{conversation_id}/contribute", response_model=ConversationOut)
async def contribute_conversation(
    conversation_id: str, body: ContributeIn, state: AppState = Depends(get_state)
) -> ConversationOut:
    if body.contribute and state.collector is None:
        raise APIError(
            409,
            "this server has no collector configured (SHAREDLLM_CHAT_COLLECTOR_URL), so it "
            "cannot contribute conversations",
            code="collector_not_configured",
        )
    out = _out(state.conversations.set_opt_in(conversation_id, body.contribute), conversation_id)
    state.contribute_later(conversation_id)
    return out
