"""ShareGPT: `{id, conversations: [{from: human|gpt|system, value}]}` (also the Vicuna training format)."""

from __future__ import annotations

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source, stable_id, text_of

SOURCE_NAME = "sharegpt"
ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "assistant": "assistant",
    "bing": "assistant", "bard": "assistant", "model": "assistant", "system": "system",
}  # fmt: skip


def sharegpt_messages(turns: list) -> list[dict[str, str]]:
    messages = []
    for i, turn in enumerate(turns):
        speaker = str(turn.get("from", "")).lower()
        if speaker not in ROLES:
            raise ValueError(f"conversations.{i}.from: unknown speaker {turn.get('from')!r}")
        messages.append({"role": ROLES[speaker], "content": text_of(turn.get("value"))})
    return messages


def matches(row: Row) -> bool:
    turns = row.get("conversations")
    return isinstance(turns, list) and bool(turns) and isinstance(turns[0], dict) and "from" in turns[0]


def convert(row: Row, source: str = SOURCE_NAME) -> list[Conversation]:
    messages = sharegpt_messages(row["conversations"])
    return [
        Conversation.model_validate(
            {
                "conversation_id": str(row.get("id") or stable_id(source, messages)),
                "conversation": messages,
                "model_name": row.get("model"),
                "source": source,
            }
        )
    ]


SOURCE = Source(SOURCE_NAME, matches, convert, "ShareGPT conversations (from/value)")
