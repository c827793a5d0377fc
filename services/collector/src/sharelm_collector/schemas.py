"""Request and response bodies of the API, other than the conversation itself (that is `sharelm.Conversation`,
imported, never redefined here)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from sharelm import Conversation
from sharelm_collector.ingest import CappedConversation, OverCap

# The batch cap of the app serving the request (set by the `batch_cap` dependency, which FastAPI resolves
# before it validates the body): checked on the parsed JSON, before any conversation in it is validated.
_BATCH_CAP: ContextVar[int | None] = ContextVar("batch_cap", default=None)


async def batch_cap(request: Request) -> None:
    _BATCH_CAP.set(request.app.state.settings.max_batch)


def _cap_batch(data: Any) -> Any:
    cap = _BATCH_CAP.get()
    if cap is not None and isinstance(data, list) and len(data) > cap:
        msg = f"batch has {len(data)} conversations, over the cap of {cap}"
        raise OverCap(("body", "conversations"), msg)
    return data


class _Body(BaseModel):
    # Unknown fields are dropped, as in the sharelm schemas.
    model_config = ConfigDict(extra="ignore")


class PluginSaved(BaseModel):
    """The public plugin's success answer, byte for byte."""

    message: Literal["Conversation saved successfully"] = "Conversation saved successfully"
    conversation_id: str


class ContributorCreated(BaseModel):
    contributor_id: str
    token: str = Field(description="Bearer token; shown once, stored only as a hash.")


class ConversationSaved(BaseModel):
    conversation_id: str
    status: Literal["created", "replaced"]


class ConversationBatch(_Body):
    conversations: Annotated[list[CappedConversation], BeforeValidator(_cap_batch)]


class BatchSaved(BaseModel):
    results: list[ConversationSaved]


class RatingUpdate(_Body):
    rate: Literal["thumbup", "thumbdown"] | None = None
    message_ratings: list[Literal[-1, 0, 1]] | None = None


class ConversationPage(BaseModel):
    conversations: list[Conversation]
    next_cursor: str | None = None


class Deleted(BaseModel):
    deleted_conversations: int


class Health(BaseModel):
    status: str
    database: str | None = None
    revision: str | None = None


class Problem(BaseModel):
    """The body of a 4xx other than 422 (and of a 5xx): what was wrong, in words."""

    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class FieldProblems(BaseModel):
    """The body of a 422, and of a 413 for a field over its cap: which fields, and why (never the input)."""

    detail: list[FieldError]


def problems(*codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for the given error statuses."""
    words = {
        400: "Body could not be decoded (not UTF-8 JSON)",
        401: "Missing, malformed or unknown token",
        403: "Not allowed",
        404: "Not found (or not yours)",
        409: "Conflicts with what is stored (an anonymous re-post that does not extend it; a concurrent "
        "change); nothing was stored",
        413: "Body, message or batch over its cap",
        429: "Rate limited, or too many failed authentications; see Retry-After",
        503: "Database unavailable, timed out or out of disk; nothing was stored; see Retry-After",
    }
    # A 413 is the body cap's (in words) or a field's over its cap (named, as in a 422).
    models = {413: Problem | FieldProblems}
    return {code: {"model": models.get(code, Problem), "description": words[code]} for code in codes}
