"""OpenAI chat format: `{messages: [{role, content}]}` (fine-tuning JSONL, chat completion logs).

`developer` counts as system; tool and function messages, and assistant turns that only call tools,
carry no conversational text and are left out.
"""

from __future__ import annotations

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source, stable_id, text_of

SOURCE_NAME = "openai"
ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
SKIPPED_ROLES = {"tool", "function"}


def matches(row: Row) -> bool:
    msgs = row.get("messages")
    return isinstance(msgs, list) and bool(msgs) and isinstance(msgs[0], dict) and "role" in msgs[0]


def convert(row: Row) -> list[Conversation]:
    messages = []
    for i, msg in enumerate(row["messages"]):
        role = msg.get("role")
        if role in SKIPPED_ROLES or (
            role == "assistant" and msg.get("content") is None and msg.get("tool_calls")
        ):
            continue
        if role not in ROLES:
            raise ValueError(f"messages.{i}.role: unknown role {role!r}")
        messages.append({"role": ROLES[role], "content": text_of(msg.get("content"))})
    return [
        Conversation.model_validate(
            {
                "conversation_id": str(row.get("id") or stable_id(SOURCE_NAME, messages)),
                "conversation": messages,
                "model_name": row.get("model"),
                "source": SOURCE_NAME,
            }
        )
    ]


SOURCE = Source(SOURCE_NAME, matches, convert, "OpenAI chat messages")
