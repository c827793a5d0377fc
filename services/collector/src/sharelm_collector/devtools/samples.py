"""Request bodies for tests and the benchmark: our schema and the public plugin's upload format."""

from __future__ import annotations

import uuid


def conversation(cid: str | None = None, turns: int = 1, text: str = "hello") -> dict:
    messages = []
    for i in range(turns):
        messages += [{"role": "user", "content": f"{text} {i}"},
                     {"role": "assistant", "content": f"reply {i}"}]
    return {"conversation_id": cid or uuid.uuid4().hex, "conversation": messages, "model_name": "tiny",
            "source": "tests"}


def plugin_upload(cid: str | None = None, user_msgs=("hi",), bot_msgs=("hello",), **extra) -> dict:
    return {
        "conversation_id": cid or str(uuid.uuid4()),
        "bot_msgs": list(bot_msgs),
        "user_msgs": list(user_msgs),
        "page_url": "https://chat.example.com/c/123?session=secret#frag",
        "user_id": "plugin-user-1",
        "user_metadata": {"age": "30", "gender": "", "location": "Haifa"},
        "timestamp": "2026-11-26T12:00:00.000Z",
        "conversation_metadata": {"message_ratings": [0] * len(bot_msgs), "rate": "thumbup"},
        **extra,
    }


def kilobyte_conversation(cid: str | None = None) -> dict:
    """About 1 KB of JSON, with one e-mail address and one phone number for the redactor to find."""
    conv = conversation(cid, turns=3, text="Could you check my booking? Reach me at jane.doe@example.com or "
                        "+1 415 555 0134, thanks. Also, what is a good name for a cat that likes boxes?")
    conv["conversation"][-1]["content"] = "A cat that loves boxes could be called Parcel or Carton. " * 3
    return conv
