"""LMSYS-Chat-1M (`lmsys/lmsys-chat-1m`): `conversation_id`, `model`, `language`, `openai_moderation`,
`redacted`. A conversation is toxic when any turn was flagged by the moderation API."""

from __future__ import annotations

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source, text_of

SOURCE_NAME = "lmsys-chat-1m"


def matches(row: Row) -> bool:
    return isinstance(row.get("conversation"), list) and "model" in row and "openai_moderation" in row


def convert(row: Row) -> list[Conversation]:
    messages = [{"role": m["role"], "content": text_of(m.get("content"))} for m in row["conversation"]]
    flagged = any(bool(m.get("flagged")) for m in row.get("openai_moderation") or [] if isinstance(m, dict))
    return [
        Conversation.model_validate(
            {
                "conversation_id": str(row["conversation_id"]),
                "conversation": messages,
                "model_name": row.get("model"),
                "source": SOURCE_NAME,
                "conversation_metadata": {
                    "language": row.get("language"),
                    "redacted": row.get("redacted"),
                    "toxic": flagged,
                },
            }
        )
    ]


SOURCE = Source(SOURCE_NAME, matches, convert, "LMSYS-Chat-1M rows")
