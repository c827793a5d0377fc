"""A generated text world with latent topics, where any CrossLM gain can only come from the mechanism.

- Topics own pseudo-word vocabularies (Zipf-weighted) and share function words; a sentence mixes its topic's
  words, a neighbouring topic's words (ambiguity) and function words.
- Public text (the LLM's pretraining): a few "<label> : <sentence>" documents whose label header is WRONG
  for a fraction of them, so the LLM starts as a weak label scorer and writer (room to improve); plus
  general-domain text outside the task world (its own vocabulary, no topic words): a held-out part of it
  measures general perplexity, the rest is the server's replay set.
- Clients: small, clean, non-IID private sets, exported as ShareLM conversations (topic in extra["topic"]).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from sharelm.schema import Conversation

SYLLABLES = ["ka", "lo", "mi", "ru", "te", "san", "vo", "pe", "di", "qua", "ne", "zo", "fi", "bu", "ra", "xe"]
FUNCTION_WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "that",
    "this",
    "it",
    "be",
    "are",
    "or",
    "an",
    "its",
    "but",
    "not",
    "have",
    "has",
    "had",
    "we",
    "they",
    "you",
]


@dataclass
class World:
    topics: list[str]
    vocab: dict[str, list[str]]
    seed: int = 0
    general_vocab: list[str] = field(default_factory=list)  # the general domain's words (no topic's)
    topic_share: float = 0.3  # share of a sentence's words drawn from its topic
    neighbour_share: float = 0.15  # ... from the next topic (ambiguity)

    def sentence(self, topic: str, rng: random.Random, length: tuple[int, int] = (8, 12)) -> str:
        i = self.topics.index(topic)
        neighbour = self.topics[(i + 1) % len(self.topics)]
        words = []
        for _ in range(rng.randint(*length)):
            r = rng.random()
            if r < self.topic_share:
                words.append(_zipf_pick(self.vocab[topic], rng))
            elif r < self.topic_share + self.neighbour_share:
                words.append(_zipf_pick(self.vocab[neighbour], rng))
            else:
                words.append(rng.choice(FUNCTION_WORDS))
        return " ".join(words)

    def guess_topic(self, text: str) -> str | None:
        """The topic whose words dominate `text`: the world's own judge of a synthetic sample's label."""
        owner = {w: t for t, words in self.vocab.items() for w in words}
        votes = Counter(owner[w] for w in text.split() if w in owner)
        return votes.most_common(1)[0][0] if votes else None

    def label_precision(self, samples) -> float:
        """Share of (text, label, ...) samples whose text is really about its label."""
        samples = list(samples)
        return sum(self.guess_topic(s[0]) == s[1] for s in samples) / max(1, len(samples))

    def labelled(
        self, n: int, rng: random.Random, weights: list[float] | None = None
    ) -> list[tuple[str, str]]:
        topics = rng.choices(self.topics, weights=weights, k=n)
        return [(self.sentence(t, rng), t) for t in topics]

    def public_corpus(self, n_headed: int, n_general: int, header_noise: float, seed: int) -> list[str]:
        """LLM pretraining text: label-headed documents (`header_noise` mislabelled) + general text."""
        rng = random.Random(seed)
        docs = []
        for text, topic in self.labelled(n_headed, rng):
            header = (
                rng.choice([t for t in self.topics if t != topic]) if rng.random() < header_noise else topic
            )
            docs.append(f"{header} : {text}")
        docs += self.general_text(n_general, seed=seed + 1)
        rng.shuffle(docs)
        return docs

    def general_text(self, n: int, seed: int) -> list[str]:
        """General-domain documents: the general vocabulary and function words, no topic's words."""
        rng = random.Random(seed)
        docs = []
        for _ in range(n):
            words = [
                _zipf_pick(self.general_vocab, rng) if rng.random() < 0.5 else rng.choice(FUNCTION_WORDS)
                for _ in range(rng.randint(8, 12))
            ]
            docs.append(" ".join(words))
        return docs

    def conversations(self, n: int, seed: int) -> list[Conversation]:
        """Clean private examples as ShareLM conversations (a user turn and an assistant turn)."""
        rng = random.Random(seed)
        out = []
        for k, (text, topic) in enumerate(self.labelled(n, rng)):
            words = text.split()
            cut = len(words) // 2
            out.append(
                Conversation.model_validate(
                    {
                        "conversation_id": f"world-{seed}-{k}",
                        "conversation": [
                            {"role": "user", "content": " ".join(words[:cut])},
                            {"role": "assistant", "content": " ".join(words[cut:])},
                        ],
                        "source": "synthetic-world",
                        "user_id": f"user-{k % 50}",
                        "conversation_metadata": {"extra": {"topic": topic}},
                    }
                )
            )
        return out


def _zipf_pick(words: list[str], rng: random.Random) -> str:
    weights = [1.0 / (r + 1) ** 0.8 for r in range(len(words))]
    return rng.choices(words, weights=weights, k=1)[0]


def word_maker(rng: random.Random, seen: set[str]):
    """`words(n)`: n new pseudo-words (2-3 syllables), none in `seen` (which grows), drawn from `rng`."""

    def words(n: int) -> list[str]:
        out = []
        while len(out) < n:
            w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
            if w not in seen:
                seen.add(w)
                out.append(w)
        return out

    return words


def make_world(num_topics: int = 4, words_per_topic: int = 60, seed: int = 0) -> World:
    rng = random.Random(seed)
    names = ["sports", "food", "music", "travel", "science", "money", "health", "movies"][:num_topics]
    seen: set[str] = set(FUNCTION_WORDS) | set(names)

    words = word_maker(rng, seen)

    vocab = {name: words(words_per_topic) for name in names}
    return World(names, vocab, seed, general_vocab=words(2 * words_per_topic))
