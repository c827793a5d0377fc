"""PRISM (`HannahRoseKirk/prism-alignment`, conversations.jsonl).

`conversation_history` holds every model response of every turn (four models in the opening turn, two
samples after); the conversation follows the chosen one (`if_chosen`). Its score (1..100) and the
rejected alternatives' scores are kept in `extra["prism_scores"]`.
"""

from __future__ import annotations

from collections import defaultdict

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source, text_of

SOURCE_NAME = "prism"


def matches(row: Row) -> bool:
    return isinstance(row.get("conversation_history"), list)


def convert(row: Row) -> list[Conversation]:
    turns: dict[int, list[dict]] = defaultdict(list)
    for utt in row["conversation_history"]:
        turns[int(utt["turn"])].append(utt)
    messages, scores, models = [], [], []
    for turn in sorted(turns):
        utts = turns[turn]
        for u in utts:
            if u["role"] == "user":
                messages.append({"role": "user", "content": text_of(u["content"])})
        responses = [u for u in utts if u["role"] == "model"]
        chosen = [u for u in responses if u.get("if_chosen")]
        if responses and not chosen:
            raise ValueError(f"conversation_history: turn {turn} has responses but none with if_chosen")
        if chosen:
            messages.append({"role": "assistant", "content": text_of(chosen[0]["content"])})
            models.append(chosen[0].get("model_name"))
            scores.append(
                {
                    "turn": turn,
                    "chosen": chosen[0].get("score"),
                    "others": [u.get("score") for u in responses if u is not chosen[0]],
                }
            )
    return [
        Conversation.model_validate(
            {
                "conversation_id": str(row["conversation_id"]),
                "conversation": messages,
                "model_name": models[0] if models else None,
                "user_id": row.get("user_id"),
                "timestamp": row.get("generated_datetime"),
                "source": SOURCE_NAME,
                "conversation_metadata": {
                    "extra": {
                        "conversation_type": row.get("conversation_type"),
                        "prism_scores": scores,
                        **({"open_feedback": row["open_feedback"]} if row.get("open_feedback") else {}),
                    }
                },
            }
        )
    ]


SOURCE = Source(SOURCE_NAME, matches, convert, "PRISM conversations with per-turn chosen responses")
