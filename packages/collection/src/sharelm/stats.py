"""`sharelm stats`: counts by source, model, language and rating, written as JSON and a PNG plot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharelm.schema import Conversation

RATING_NAMES = {1: "thumbs up", -1: "thumbs down", 0: "no rating"}


@dataclass
class CollectionStats:
    conversations: int = 0
    messages: int = 0
    redacted: int = 0
    by_source: Counter = field(default_factory=Counter)
    by_model: Counter = field(default_factory=Counter)
    by_language: Counter = field(default_factory=Counter)
    by_rate: Counter = field(default_factory=Counter)  # conversation-level rate
    message_ratings: Counter = field(default_factory=Counter)  # per assistant message
    turns: Counter = field(default_factory=Counter)  # user turns per conversation

    def add(self, conv: Conversation) -> None:
        meta = conv.conversation_metadata
        self.conversations += 1
        self.messages += len(conv.conversation)
        self.redacted += meta.redacted == "True"
        self.by_source[conv.source or "unknown"] += 1
        self.by_model[conv.model_name or "unknown"] += 1
        self.by_language[meta.language or "unknown"] += 1
        self.by_rate[f"conversation: {meta.rate or 'not rated'}"] += 1
        for r in meta.message_ratings:
            self.message_ratings[f"message: {RATING_NAMES[r]}"] += 1
        self.turns[sum(m.role == "user" for m in conv.conversation)] += 1

    def to_dict(self, top: int = 50) -> dict[str, Any]:
        def top_n(c: Counter) -> dict[str, int]:
            return dict(c.most_common(top))

        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "redacted": self.redacted,
            "by_source": top_n(self.by_source),
            "by_model": top_n(self.by_model),
            "by_language": top_n(self.by_language),
            "by_rate": top_n(self.by_rate),
            "message_ratings": top_n(self.message_ratings),
            "user_turns": {str(k): v for k, v in sorted(self.turns.items())},
        }


def collect(convs: Iterable[Conversation]) -> CollectionStats:
    stats = CollectionStats()
    for conv in convs:
        stats.add(conv)
    return stats


def plot(stats: CollectionStats, path: str | Path, top: int = 12) -> Path:
    """Four bar charts (source, model, language, ratings) in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("by source", stats.by_source),
        ("by model", stats.by_model),
        ("by language", stats.by_language),
        ("ratings (conversation rate + per message)", stats.by_rate + stats.message_ratings),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, (title, counter) in zip(axes.flat, panels, strict=True):
        items = counter.most_common(top)[::-1]
        ax.barh([str(k) for k, _ in items], [v for _, v in items], color="#4C72B0")
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"{stats.conversations} conversations, {stats.messages} messages, {stats.redacted} redacted")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
