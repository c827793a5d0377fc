"""Request and response bodies of the API, other than the conversation itself (that is `sharelm.Conversation`,
imported, never redefined here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sharelm import Conversation


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
    conversations: list[Conversation]


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
    """The body of a 4xx other than 422: what was wrong, in words."""

    detail: str


def problems(*codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for the given error statuses."""
    words = {
        400: "Body could not be decoded (not UTF-8 JSON)",
        401: "Missing, malformed or unknown token",
        403: "Not allowed",
        404: "Not found (or not yours)",
        413: "Body, message or batch over its cap",
        429: "Rate limited; see Retry-After",
    }
    return {code: {"model": Problem, "description": words[code]} for code in codes}
