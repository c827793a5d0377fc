"""Synthetic retrieval examples for continual training (the usual recipe of long-context methods).

Each example is a passkey prompt (`sharedllm.evaluation.passkey`: a key hidden at a random depth of filler
text, or a constant defined far back in code) followed by its answer, laid out as serving lays out a prompt.
The loss is on the answer only, and the query span ends at the question's last token: the query-aware
policy selects the context from the question, never from the answer it is trained to produce.
Keys are drawn from the example's own seeded generator; evaluation draws its keys, depths and lengths
independently (`passkey_accuracy(seed=...)`), so no evaluated prompt is a training example.

`copy_blocks` is the base model's copy curriculum: a retrieval stage can only teach a model to fetch a key
from far back if it already copies inside its own window, and a tiny model trained on dialogs alone never
learns that (it needs data where copying pays: repeated random spans and in-window passkey prompts).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from sharedllm.data.chunking import IGNORE_INDEX, ChunkedExample, layout_example
from sharedllm.evaluation.passkey import TEMPLATES, PasskeyTemplate, passkey_prompt
from sharedllm.layout import sample_running_length


def answer_ids(tokenizer, key: str) -> list[int]:
    """The answer as the evaluation decodes it: " <key>" right after the question."""
    return tokenizer(" " + key, add_special_tokens=False)["input_ids"]


def retrieval_example(
    tokenizer,
    template: PasskeyTemplate,
    length: int,
    depth: float,
    key: str,
    chunk_size: int,
    upper_len: int,
) -> ChunkedExample:
    """One example of about `length` tokens: prompt + answer, labels on the answer, the query at the
    question's last token."""
    answer = answer_ids(tokenizer, key)
    prompt = passkey_prompt(tokenizer, template, length - len(answer), depth, key)
    tokens = torch.cat([prompt, torch.tensor(answer, dtype=torch.long)])
    labels = torch.full_like(tokens, IGNORE_INDEX)
    labels[prompt.numel() :] = tokens[prompt.numel() :]
    example = layout_example(tokens, chunk_size, upper_len, labels, query_before_answer=True)
    return example


def retrieval_examples(
    tokenizer,
    count: int,
    n_chunks: int,
    chunk_size: int,
    upper_len: int,
    templates: Sequence[str] = ("text", "python"),
    min_chunks: int = 1,
    digits: int = 5,
    far_fraction: float = 0.8,
    seed: int = 0,
) -> list[ChunkedExample]:
    """`count` examples with min_chunks..n_chunks context chunks (uniform), a running text drawn as serving
    produces them and a random `digits`-digit key; templates alternate. The needle's depth is uniform over
    the part of the prompt that goes to the context chunks for `far_fraction` of the examples (what teaches
    retrieval from far back), uniform over the whole prompt for the others."""
    unknown = [t for t in templates if t not in TEMPLATES]
    if unknown or not templates:
        raise ValueError(f"retrieval templates must be among {', '.join(TEMPLATES)}, got {list(templates)}")
    rng = random.Random(seed)
    out = []
    for i in range(count):
        template = TEMPLATES[templates[i % len(templates)]]()
        n = rng.randint(min_chunks, n_chunks)
        length = n * chunk_size + sample_running_length(chunk_size, upper_len, rng)
        key = str(rng.randrange(10 ** (digits - 1), 10**digits))
        far = rng.random() < far_fraction
        depth = rng.random() * (n * chunk_size / length if far else 1.0)
        out.append(retrieval_example(tokenizer, template, length, depth, key, chunk_size, upper_len))
    return out


def _prompt_floor(tokenizer, template: PasskeyTemplate, digits: int) -> int:
    """The fewest tokens a prompt + answer of this template takes (no filler)."""
    key = "9" * digits
    parts = (template.head, template.needle.format(key=key), template.question, " " + key)
    return sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in parts)


def _passkey_stream(tokenizer, rng: random.Random, length: int, templates: Sequence[str], digits: int):
    """In-window passkey prompts of random lengths (at most `length`), each followed by its answer, EOS."""
    fitting = [(TEMPLATES[t](), _prompt_floor(tokenizer, TEMPLATES[t](), digits)) for t in templates]
    fitting = [(t, floor) for t, floor in fitting if floor < length]
    if not fitting:
        raise ValueError(f"block_len {length} is too short for a passkey prompt of {list(templates)}")
    out: list[int] = []
    while len(out) < length:
        template, floor = rng.choice(fitting)
        key = str(rng.randrange(10 ** (digits - 1), 10**digits))
        answer = answer_ids(tokenizer, key)
        n = rng.randint(floor, length)
        prompt = passkey_prompt(tokenizer, template, n - len(answer), rng.random(), key)
        out += prompt.tolist() + answer + [tokenizer.eos_token_id]
    return out[:length]


def _repeat_stream(rng: random.Random, length: int, low: int, high: int, period_fraction: float) -> list[int]:
    """Random token spans, each repeated 2-4 times after random gaps: the data that grows induction heads."""
    out: list[int] = []
    while len(out) < length:
        if rng.random() < period_fraction:
            # A 2-3 token pattern over and over: predicting it means attending to the token 1-2 back, which
            # grows the previous-token heads an induction head is built on (random spans alone do not).
            out += [rng.randrange(low, high) for _ in range(rng.randint(2, 3))] * rng.randint(3, 8)
            continue
        span = [rng.randrange(low, high) for _ in range(rng.randint(4, 32))]
        for _ in range(rng.randint(2, 4)):  # more copies, more signal for the copying circuit
            out += span + [rng.randrange(low, high) for _ in range(rng.randint(0, 32))]
    return out[:length]


def copy_blocks(
    tokenizer,
    count: int,
    block_len: int,
    templates: Sequence[str] = ("text", "python"),
    digits: int = 5,
    repeat_fraction: float = 0.3,
    period_fraction: float = 0.3,
    seed: int = 0,
) -> torch.Tensor:
    """[count, block_len] pretraining blocks that reward copying inside the window: `repeat_fraction` of
    them repeated random token spans or short patterns, the others in-window passkey prompts with their
    answers (text and code templates, the needle at a random depth). Labels are the tokens themselves.
    period_fraction: of the repeated segments, the share that are 2-3 token patterns repeated 3-8 times
    (what grows previous-token heads; 1.0 for a curriculum's first stage)."""
    unknown = [t for t in templates if t not in TEMPLATES]
    if unknown or not templates:
        raise ValueError(f"copy templates must be among {', '.join(TEMPLATES)}, got {list(templates)}")
    for name, value in (("repeat_fraction", repeat_fraction), ("period_fraction", period_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    rng = random.Random(seed)
    specials = {tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id} - {None}
    low = max(specials, default=-1) + 1  # ordinary tokens only (the specials come first in our tokenizers)
    high = len(tokenizer)
    rows = []
    for _ in range(count):
        if rng.random() < repeat_fraction:
            rows.append(_repeat_stream(rng, block_len, low, high, period_fraction))
        else:
            rows.append(_passkey_stream(tokenizer, rng, block_len, templates, digits))
    return torch.tensor(rows, dtype=torch.long).view(count, block_len)
