"""Bodies of the conversation endpoints (rating, contribution status)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from sharelm import Conversation


class RatingIn(BaseModel):
    """Same shape as the collector's rating PATCH: a whole-conversation rate and/or per-reply ratings."""

    rate: Literal["thumbup", "thumbdown"] | None = None
    message_ratings: list[Literal[-1, 0, 1]] | None = None
    # Or rate one reply: the index among the assistant messages (0 = first reply) and -1/0/1.
    message_index: int | None = Field(None, ge=0)
    rating: Literal[-1, 0, 1] | None = None

    @model_validator(mode="after")
    def _something(self) -> RatingIn:
        if (self.message_index is None) != (self.rating is None):
            raise ValueError("message_index and rating go together")
        if self.message_ratings is not None and self.message_index is not None:
            raise ValueError("give message_ratings or message_index/rating, not both")
        if self.rate is None and self.message_ratings is None and self.message_index is None:
            raise ValueError("nothing to rate: give rate, message_ratings or message_index/rating")
        return self


class Contribution(BaseModel):
    opted_in: bool = False
    # pending: to be posted; retrying: a post failed and the next try is at `next_attempt_at`; failed: every
    # try failed (`detail` says why) and the next turn, rating or opt-in tries again.
    status: Literal["not_opted_in", "pending", "retrying", "sent", "failed"] = "not_opted_in"
    detail: str | None = None
    collector_conversation_id: str | None = None
    attempts: int = 0  # posts tried for the latest state
    next_attempt_at: str | None = None  # ISO time, while retrying


class ConversationOut(BaseModel):
    conversation: Conversation
    contribution: Contribution


class ContributeIn(BaseModel):
    contribute: bool = True
