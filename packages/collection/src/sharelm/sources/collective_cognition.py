"""Collective Cognition (`CollectiveCognition/chats-data-2023-10-16`): shared ChatGPT chats, ShareGPT turns
plus a `title` and a `model`."""

from __future__ import annotations

from sharelm.schema import Conversation
from sharelm.sources import sharegpt
from sharelm.sources.base import Row, Source, stable_id

SOURCE_NAME = "collective_cognition"


def matches(row: Row) -> bool:
    return sharegpt.matches(row) and "title" in row and "model" in row


def convert(row: Row) -> list[Conversation]:
    messages = sharegpt.sharegpt_messages(row["conversations"])
    return [
        Conversation.model_validate(
            {
                "conversation_id": str(row.get("id") or stable_id(SOURCE_NAME, messages)),
                "conversation": messages,
                "model_name": row.get("model"),
                "timestamp": row.get("timestamp") or row.get("date"),
                "source": SOURCE_NAME,
                "conversation_metadata": {"title": row.get("title")},
            }
        )
    ]


SOURCE = Source(SOURCE_NAME, matches, convert, "Collective Cognition chats (ShareGPT turns + title, model)")
