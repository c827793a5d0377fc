"""Response mode's data: rated answers as reward-model examples, and the prompts the server owns.

A reward model is a client SLM with two labels; its score of an answer is its probability of "liked". It
reads the prompt and the answer joined by `SEPARATOR`. Ratings come from the `sharelm` schema: per-response
ratings (`conversation_metadata.message_ratings`, one per assistant turn) label their answers; the
conversation's thumbs (`rate`) label its last answer when that answer has no rating of its own, so a
conversation with both gives a rated pair or more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from crosslm.task import Example, Task, field_value, thumbs

if TYPE_CHECKING:
    from sharelm.schema import Conversation

LABELS = ["disliked", "liked"]
LIKED = "liked"
SEPARATOR = " || "


def rm_text(prompt: str, answer: str) -> str:
    """What a reward model reads: the prompt, the separator, the answer."""
    return f"{_norm(prompt)}{SEPARATOR}{_norm(answer)}"


def _norm(text: str) -> str:
    return " ".join(text.split())


def rated_answers(conv: Conversation) -> list[tuple[str, str, str]]:
    """(prompt, answer, "liked" | "disliked") for every rated assistant turn of a conversation."""
    ratings = list(conv.conversation_metadata.message_ratings)
    turns, prompt = [], ""
    for m in conv.conversation:
        if m.role == "user":
            prompt = m.content
        elif m.role == "assistant":
            turns.append([prompt, m.content, ratings[len(turns)] if len(turns) < len(ratings) else 0])
    if turns and not turns[-1][2]:
        turns[-1][2] = thumbs(conv)
    return [(p, a, LABELS[r > 0]) for p, a, r in turns if r and _norm(p) and _norm(a)]


def response_examples(convs: Iterable[Conversation], group_by: str | None = None) -> list[Example]:
    """Every rated answer of the snapshot as a reward-model example (text = prompt || answer)."""
    out = []
    for conv in convs:
        group = field_value(conv, group_by) if group_by else ""
        for prompt, answer, label in rated_answers(conv):
            out.append(Example(rm_text(prompt, answer), label, group, _norm(prompt)))
    return out


def user_prompts(convs: Iterable[Conversation]) -> list[str]:
    """The user turns of conversations (the public share's: the server's prompts), in order, distinct."""
    seen: dict[str, None] = {}
    for conv in convs:
        for m in conv.conversation:
            if m.role == "user" and (p := _norm(m.content)):
                seen.setdefault(p, None)
    return list(seen)


def response_task(template: str) -> Task:
    """Labels of the reward models; `template` (with {prompt}) is how the LLM is asked to answer."""
    return Task("response", list(LABELS), template, None)


def llm_prompt(template: str, prompt: str) -> str:
    return template.format(prompt=_norm(prompt))
