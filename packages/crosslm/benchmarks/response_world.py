"""A ShareLM-shaped world for response mode: prompts on latent topics, answers, and a hidden rater.

- A prompt is a user turn about one topic (its pseudo-words mixed with function words).
- An answer is about some topic and may carry the style people like (one of a few style words).
- The hidden rater: value = half for staying on the prompt's topic (the share of the answer's words from
  the prompt's topic, saturating at `on_topic_share`) + half for keeping the style (any style word).
  People rate an answer up when its value is at least 0.75 (on topic enough and in style), with
  `rating_noise` of the ratings flipped.
- The LLM's pretraining answers stay on topic only `llm_on_topic` of the time and keep the style only
  `llm_style` of the time: it starts weak at what the rater likes.
- Contributors (user_id = silo) hold rated conversations in the `sharelm` schema: per-response ratings,
  a few with two rated answers (pairs), some with only the conversation's thumbs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from world import FUNCTION_WORDS, word_maker

from sharelm.schema import Conversation

TEMPLATE = "user : {prompt} assistant :"


@dataclass
class ResponseWorld:
    topics: list[str]
    vocab: dict[str, list[str]]
    style: list[str]
    general_vocab: list[str]
    seed: int = 0
    on_topic_share: float = 0.4
    rating_noise: float = 0.1
    llm_on_topic: float = 0.35
    llm_style: float = 0.25
    owner: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.owner = {w: t for t, ws in self.vocab.items() for w in ws}

    # ---- text ------------------------------------------------------------------------------------
    def prompt(self, rng: random.Random) -> tuple[str, str]:
        topic = rng.choice(self.topics)
        words = [
            rng.choice(self.vocab[topic]) if rng.random() < 0.6 else rng.choice(FUNCTION_WORDS)
            for _ in range(rng.randint(5, 7))
        ]
        return " ".join(words), topic

    def topic_of(self, prompt: str) -> str | None:
        votes: dict[str, int] = {}
        for w in prompt.split():
            if w in self.owner:
                votes[self.owner[w]] = votes.get(self.owner[w], 0) + 1
        return max(votes, key=votes.get) if votes else None

    def answer(self, topic: str, styled: bool, rng: random.Random) -> str:
        words = [
            rng.choice(self.vocab[topic]) if rng.random() < 0.5 else rng.choice(FUNCTION_WORDS)
            for _ in range(rng.randint(6, 9))
        ]
        if styled:
            words.insert(rng.randrange(len(words) + 1), rng.choice(self.style))
        return " ".join(words)

    def answer_for(self, prompt_topic: str, on_topic: float, style: float, rng: random.Random) -> str:
        topic = (
            prompt_topic
            if rng.random() < on_topic
            else rng.choice([t for t in self.topics if t != prompt_topic])
        )
        return self.answer(topic, rng.random() < style, rng)

    # ---- the hidden rater ------------------------------------------------------------------------
    def value(self, prompt: str, answer: str) -> float:
        topic, words = self.topic_of(prompt), answer.split()
        if not words:
            return 0.0
        share = sum(self.owner.get(w) == topic for w in words) / len(words)
        return 0.5 * min(1.0, share / self.on_topic_share) + 0.5 * any(w in self.style for w in words)

    def liked(self, prompt: str, answer: str) -> bool:
        return self.value(prompt, answer) >= 0.75

    def rate(self, prompt: str, answer: str, rng: random.Random) -> int:
        up = self.liked(prompt, answer) != (rng.random() < self.rating_noise)
        return 1 if up else -1

    # ---- data ------------------------------------------------------------------------------------
    def public_corpus(self, n_dialogs: int, n_general: int, seed: int) -> list[str]:
        """The LLM's pretraining: templated dialogs whose answers are often off topic / out of style."""
        rng = random.Random(seed)
        docs = []
        for _ in range(n_dialogs):
            p, t = self.prompt(rng)
            docs.append(
                f"{TEMPLATE.format(prompt=p)} {self.answer_for(t, self.llm_on_topic, self.llm_style, rng)}"
            )
        docs += self.general_text(n_general, seed + 1)
        rng.shuffle(docs)
        return docs

    def general_text(self, n: int, seed: int) -> list[str]:
        rng = random.Random(seed)
        return [
            " ".join(
                rng.choice(self.general_vocab) if rng.random() < 0.5 else rng.choice(FUNCTION_WORDS)
                for _ in range(rng.randint(8, 12))
            )
            for _ in range(n)
        ]

    def prompts(self, n: int, seed: int) -> list[str]:
        rng = random.Random(seed)
        return [self.prompt(rng)[0] for _ in range(n)]

    def conversations(self, contributors: int, per_contributor: int, seed: int) -> list[Conversation]:
        """Rated conversations: answers from assistants of every kind (half on topic, half in style)."""
        rng = random.Random(seed)
        out = []
        for u in range(contributors):
            for k in range(per_contributor):
                p, t = self.prompt(rng)
                turns, ratings = [], []
                for _ in range(2 if rng.random() < 0.3 else 1):  # some conversations rate a pair
                    a = self.answer_for(t, 0.5, 0.5, rng)
                    turns += [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
                    ratings.append(self.rate(p, a, rng))
                meta: dict = {"message_ratings": ratings}
                if len(ratings) == 1 and rng.random() < 0.3:  # thumbs only
                    meta = {"rate": "thumbs_up" if ratings[0] > 0 else "thumbs_down"}
                out.append(
                    Conversation.model_validate(
                        {
                            "conversation_id": f"rw-{seed}-{u}-{k}",
                            "conversation": turns,
                            "user_id": f"contributor-{u}",
                            "source": f"platform-{u % 2}",
                            "conversation_metadata": meta,
                        }
                    )
                )
        return out

    def test_pairs(self, n: int, seed: int) -> list[tuple[str, str, str]]:
        """(prompt, better, worse) by the noise-free rater: the reward models' pairwise accuracy."""
        rng = random.Random(seed)
        pairs = []
        while len(pairs) < n:
            p, t = self.prompt(rng)
            a, b = self.answer_for(t, 0.5, 0.5, rng), self.answer_for(t, 0.5, 0.5, rng)
            va, vb = self.value(p, a), self.value(p, b)
            if va != vb:
                pairs.append((p, a, b) if va > vb else (p, b, a))
        return pairs


def make_response_world(num_topics: int = 4, words_per_topic: int = 16, seed: int = 0) -> ResponseWorld:
    rng = random.Random(seed)
    names = ["sports", "food", "music", "travel", "science", "money"][:num_topics]
    seen = set(FUNCTION_WORDS) | set(names) | {"user", "assistant"}

    words = word_maker(rng, seen)

    vocab = {t: words(words_per_topic) for t in names}
    return ResponseWorld(names, vocab, style=words(3), general_vocab=words(40), seed=seed)
