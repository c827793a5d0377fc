"""Rows of the public `shachardon/ShareLM` dataset (or of our own export): already in the schema."""

from __future__ import annotations

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source

PUBLIC_KEYS = {"conversation_metadata", "user_metadata", "model_name"}


def matches(row: Row) -> bool:
    return isinstance(row.get("conversation"), list) and bool(PUBLIC_KEYS & row.keys())


def convert(row: Row) -> list[Conversation]:
    return [Conversation.model_validate(row)]


SOURCE = Source("sharelm", matches, convert, "ShareLM dataset rows / our JSONL")
