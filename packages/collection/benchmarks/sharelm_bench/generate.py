"""Generated benchmark collections: ~1 KB conversations built from the ChatterBot corpus' real English
utterances, with PII in some, and exact and near duplicates mixed in (so every build stage has work)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache

from sharelm.schema import Conversation
from sharelm.sources.chatterbot import load_corpus
from sharelm_bench.pii import random_pii

MODELS = ["gpt-4o", "claude-3-5-sonnet", "llama-3-70b", "mistral-large", "gemini-1.5-pro"]
SOURCES = ["share_lm_plugin", "sharegpt", "wildchat", "lmsys-chat-1m"]
FILLERS = [
    "Could you explain that in more detail?",
    "Here is what I tried so far, step {n}.",
    "The result was {n} items, which seems wrong.",
    "Thanks, that helps a lot.",
    "Let me think about it for a moment.",
    "In version {n}.{m} the behaviour changed.",
    "It took about {n} seconds on my laptop.",
]


@lru_cache(maxsize=1)
def utterances() -> tuple[str, ...]:
    seen = dict.fromkeys(m.content for c in load_corpus(["english"]) for m in c.conversation)
    return tuple(u for u in seen if 3 < len(u) <= 160)


def _message(rng: random.Random, pool: tuple[str, ...], target: int) -> str:
    parts: list[str] = []
    size = 0
    while size < target:
        s = (
            rng.choice(pool)
            if rng.random() < 0.8
            else rng.choice(FILLERS).format(n=rng.randint(1, 999), m=rng.randint(0, 9))
        )
        parts.append(s)
        size += len(s) + 1
    return " ".join(parts)


def conversation(i: int, rng: random.Random, pii_rate: float) -> Conversation:
    pool = utterances()
    n_turns = rng.randint(2, 4)
    per_message = 880 // (2 * n_turns)  # ~1 KB of content with the separators and PII
    messages = []
    for _ in range(n_turns):
        messages.append({"role": "user", "content": _message(rng, pool, per_message)})
        messages.append({"role": "assistant", "content": _message(rng, pool, per_message)})
    if rng.random() < pii_rate:
        _, sentence = random_pii(rng)
        messages[0]["content"] += " " + sentence
    return Conversation.model_validate(
        {
            "conversation_id": f"gen-{i}",
            "conversation": messages,
            "model_name": rng.choice(MODELS),
            "source": rng.choice(SOURCES),
            "timestamp": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
            "conversation_metadata": {
                "rate": rng.choice([None, None, "thumbup", "thumbdown"]),
                "message_ratings": [rng.choice([-1, 0, 0, 1]) for _ in range(n_turns)],
            },
        }
    )


def generate(
    n: int, seed: int = 0, pii_rate: float = 0.05, exact_dup_rate: float = 0.02, near_dup_rate: float = 0.02
) -> Iterator[Conversation]:
    """n conversations, streamed; duplicates copy one of the last 1,000 (a fresh id, same content)."""
    rng = random.Random(seed)
    recent: list[Conversation] = []
    for i in range(n):
        r = rng.random()
        if recent and r < exact_dup_rate:
            src = rng.choice(recent)
            conv = src.model_copy(update={"conversation_id": f"gen-{i}"})
        elif recent and r < exact_dup_rate + near_dup_rate:
            src = rng.choice(recent)
            msgs = [m.model_copy() for m in src.conversation]
            msgs[-1] = msgs[-1].model_copy(update={"content": msgs[-1].content + " Thanks!"})
            conv = src.model_copy(update={"conversation_id": f"gen-{i}", "conversation": msgs})
        else:
            conv = conversation(i, rng, pii_rate)
            recent.append(conv)
            if len(recent) > 1_000:
                recent.pop(0)
        yield conv
