"""Anthropic hh-rlhf: `{chosen, rejected}` transcripts of `\\n\\nHuman: ...\\n\\nAssistant: ...` turns.

Both transcripts become conversations, linked by `extra["pair_id"]`; the preference is kept in
`extra["preference"]` and as the rating of the final assistant message (1 chosen, -1 rejected).
"""

from __future__ import annotations

import re

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source, stable_id

SOURCE_NAME = "hh-rlhf"
_TURN = re.compile(r"\n\n(Human|Assistant): ?")
_ROLE = {"Human": "user", "Assistant": "assistant"}


def parse_transcript(text: str) -> list[dict[str, str]]:
    parts = _TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise ValueError("transcript does not start with '\\n\\nHuman:'")
    return [{"role": _ROLE[r], "content": c.strip()} for r, c in zip(parts[1::2], parts[2::2], strict=True)]


def matches(row: Row) -> bool:
    return isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str)


def convert(row: Row) -> list[Conversation]:
    pair_id = stable_id(SOURCE_NAME, row["chosen"], row["rejected"])
    ids = {"chosen": f"{pair_id}-chosen", "rejected": f"{pair_id}-rejected"}
    convs = []
    for preference, other in (("chosen", "rejected"), ("rejected", "chosen")):
        messages = parse_transcript(row[preference])
        n_assistant = sum(m["role"] == "assistant" for m in messages)
        ratings = [0] * n_assistant
        if messages[-1]["role"] == "assistant":
            ratings[-1] = 1 if preference == "chosen" else -1
        convs.append(
            Conversation.model_validate(
                {
                    "conversation_id": ids[preference],
                    "conversation": messages,
                    "source": SOURCE_NAME,
                    "conversation_metadata": {
                        "message_ratings": ratings,
                        "extra": {"pair_id": pair_id, "preference": preference, "paired_with": ids[other]},
                    },
                }
            )
        )
    return convs


SOURCE = Source(SOURCE_NAME, matches, convert, "Anthropic hh-rlhf chosen/rejected pairs")
