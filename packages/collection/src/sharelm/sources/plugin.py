"""The public ShareLM browser plugin's upload request (`POST /api/endpoint`) and its conversion.

`PluginUpload` is the request body the extension sends, not a conversation schema: `from_upload` turns it
into THE `Conversation` (user and bot messages interleaved, the page URL stripped of its query string and
fragment and kept in `conversation_metadata.extra["page_url"]`).
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sharelm.schema import Conversation, Message, UserMetadata
from sharelm.sources.base import Row, Source

SOURCE_NAME = "share_lm_plugin"


class PluginConversationMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_ratings: list[Literal[-1, 0, 1]] = Field(default_factory=list)
    rate: Literal["thumbup", "thumbdown"] | None = None

    @field_validator("rate", mode="before")
    @classmethod
    def _blank_rate_is_none(cls, value: Any) -> Any:
        return None if value in ("", "null") else value


class PluginUpload(BaseModel):
    """Body of the plugin's upload request (extension 0.0.2.9)."""

    model_config = ConfigDict(extra="ignore")
    conversation_id: str | None = None
    bot_msgs: list[str]
    user_msgs: list[str]
    page_url: str | None = None
    user_id: str | None = None
    user_metadata: UserMetadata = Field(default_factory=UserMetadata)
    timestamp: str | None = None
    conversation_metadata: PluginConversationMetadata = Field(default_factory=PluginConversationMetadata)

    @field_validator("user_metadata", "conversation_metadata", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


def strip_url(url: str) -> str:
    """The URL without its query string and fragment (they carry session ids and search terms)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def interleave(user_msgs: list[str], bot_msgs: list[str]) -> list[Message]:
    """user, bot, user, bot...; blank messages (the plugin reads empty DOM nodes) are dropped."""
    messages = []
    for user, bot in zip_longest(user_msgs, bot_msgs):
        if user is not None and user.strip():
            messages.append(Message(role="user", content=user))
        if bot is not None and bot.strip():
            messages.append(Message(role="assistant", content=bot))
    return messages


def from_upload(payload: dict[str, Any] | PluginUpload) -> Conversation:
    """Convert one plugin upload into a Conversation (raises pydantic.ValidationError on bad input)."""
    upload = payload if isinstance(payload, PluginUpload) else PluginUpload.model_validate(payload)
    extra: dict[str, Any] = {}
    if upload.page_url:
        extra["page_url"] = strip_url(upload.page_url)
    row: dict[str, Any] = {
        "conversation": [m.model_dump() for m in interleave(upload.user_msgs, upload.bot_msgs)],
        "user_id": upload.user_id,
        "timestamp": upload.timestamp,
        "source": SOURCE_NAME,
        "user_metadata": upload.user_metadata.model_dump(),
        "conversation_metadata": {
            "rate": upload.conversation_metadata.rate,
            "message_ratings": upload.conversation_metadata.message_ratings,
            "extra": extra,
        },
    }
    if upload.conversation_id:
        row["conversation_id"] = upload.conversation_id
    # Validated as a dict so errors name Conversation's fields (empty conversation, too many ratings...).
    return Conversation.model_validate(row)


def matches(row: Row) -> bool:
    return "bot_msgs" in row and "user_msgs" in row


def convert(row: Row) -> list[Conversation]:
    return [from_upload(row)]


SOURCE = Source(SOURCE_NAME, matches, convert, "ShareLM plugin upload payloads (bot_msgs/user_msgs)")
