"""WildChat (`allenai/WildChat-1M`): `conversation_hash`, `model`, per-turn language/toxic/redacted."""

from __future__ import annotations

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source, text_of

SOURCE_NAME = "wildchat"


def matches(row: Row) -> bool:
    return "conversation_hash" in row and isinstance(row.get("conversation"), list)


def convert(row: Row) -> list[Conversation]:
    messages = [{"role": m["role"], "content": text_of(m.get("content"))} for m in row["conversation"]]
    location = ", ".join(str(x) for x in (row.get("state"), row.get("country")) if x) or None
    return [
        Conversation.model_validate(
            {
                "conversation_id": str(row["conversation_hash"]),
                "conversation": messages,
                "model_name": row.get("model"),
                "user_id": row.get("hashed_ip"),
                "timestamp": str(row["timestamp"]) if row.get("timestamp") is not None else None,
                "source": SOURCE_NAME,
                "user_metadata": {"location": location},
                "conversation_metadata": {
                    "language": row.get("language"),
                    "toxic": row.get("toxic"),
                    "redacted": row.get("redacted"),
                    "extra": {"turn": row.get("turn")} if row.get("turn") is not None else {},
                },
            }
        )
    ]


SOURCE = Source(SOURCE_NAME, matches, convert, "WildChat rows")
