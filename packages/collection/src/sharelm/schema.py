"""The platform's conversation schema: one row of the public ShareLM dataset, validated.

Field names and nesting follow the `shachardon/ShareLM` Hugging Face dataset exactly, so a row of that
dataset validates as is. We add two fields inside `conversation_metadata` (`message_ratings`, `extra`);
everything else is the public layout. These models are THE schemas of the platform: the collector, the
plugin (through the exported JSON Schema), CrossLM and the chat service import them from here.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

Role = Literal["user", "assistant", "system"]
ROLES: tuple[str, ...] = ("user", "assistant", "system")

# Caps are configurable per call (`model_validate(..., context={"max_content_chars": n})`) or per process
# (environment); the defaults are generous for chats and small enough to stop a paste of a whole book.
DEFAULT_MAX_CONTENT_CHARS = int(os.environ.get("SHARELM_MAX_CONTENT_CHARS", 200_000))
DEFAULT_MAX_MESSAGES = int(os.environ.get("SHARELM_MAX_MESSAGES", 2_000))


def _context_limit(info: ValidationInfo, key: str, default: int) -> int:
    ctx = info.context or {}
    return int(ctx.get(key, default))


def _scalar_to_str(value: Any) -> Any:
    """The public dataset stores metadata as strings ("True", "4"); accept the typed forms sources use."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return value


class _Record(BaseModel):
    # Unknown keys are dropped, not stored: clients cannot smuggle fields into the collection.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Message(_Record):
    role: Role
    content: str

    @field_validator("role", mode="before")
    @classmethod
    def _role_lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("content")
    @classmethod
    def _content_size(cls, value: str, info: ValidationInfo) -> str:
        cap = _context_limit(info, "max_content_chars", DEFAULT_MAX_CONTENT_CHARS)
        if len(value) > cap:
            raise ValueError(f"content has {len(value)} characters, over the cap of {cap}")
        return value


class UserMetadata(_Record):
    age: str | None = None
    gender: str | None = None
    location: str | None = None

    _coerce = field_validator("age", "gender", "location", mode="before")(
        lambda cls, v: _scalar_to_str(v)
    )


class ConversationMetadata(_Record):
    rate: str | None = None
    language: str | None = None
    redacted: str | None = None
    toxic: str | None = None
    title: str | None = None
    custom_instruction: str | None = None
    status: str | None = None
    # Ours: one rating per assistant message, -1 (thumbs down), 0 (none), 1 (thumbs up).
    message_ratings: list[Literal[-1, 0, 1]] = Field(default_factory=list)
    # Ours: anything a source knows that the public columns have no place for (topic, preference, rank...).
    extra: dict[str, Any] = Field(default_factory=dict)

    _coerce = field_validator(
        "rate", "language", "redacted", "toxic", "title", "custom_instruction", "status", mode="before"
    )(lambda cls, v: _scalar_to_str(v))


class Conversation(_Record):
    conversation_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    conversation: list[Message]
    model_name: str | None = None
    user_id: str | None = None
    timestamp: str | None = None
    source: str | None = None
    user_metadata: UserMetadata = Field(default_factory=UserMetadata)
    conversation_metadata: ConversationMetadata = Field(default_factory=ConversationMetadata)

    @field_validator("conversation_id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("conversation_id must not be blank")
        return value

    @field_validator("user_metadata", "conversation_metadata", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("conversation")
    @classmethod
    def _conversation_size(cls, value: list[Message], info: ValidationInfo) -> list[Message]:
        if not value:
            raise ValueError("conversation is empty: at least one message is required")
        cap = _context_limit(info, "max_messages", DEFAULT_MAX_MESSAGES)
        if len(value) > cap:
            raise ValueError(f"conversation has {len(value)} messages, over the cap of {cap}")
        return value

    @model_validator(mode="after")
    def _ratings_fit_assistant_turns(self) -> Conversation:
        n_ratings = len(self.conversation_metadata.message_ratings)
        if n_ratings > self.num_assistant_turns:
            raise ValueError(
                f"conversation_metadata.message_ratings has {n_ratings} ratings but the conversation has "
                f"only {self.num_assistant_turns} assistant messages"
            )
        return self

    @property
    def num_assistant_turns(self) -> int:
        return sum(m.role == "assistant" for m in self.conversation)

    def assistant_messages(self) -> list[Message]:
        return [m for m in self.conversation if m.role == "assistant"]

    def to_row(self) -> dict[str, Any]:
        """A plain dict in the dataset layout (JSON-ready)."""
        return self.model_dump(mode="json")


def conversation_json_schema() -> dict[str, Any]:
    """JSON Schema of `Conversation` for other languages (the browser extension validates against it)."""
    schema = Conversation.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sharelm.dev/schemas/conversation.schema.json"
    return schema
