"""Synthetic retrieval examples for continual training (the usual recipe of long-context methods).

Each example is a passkey prompt (`sharedllm.evaluation.passkey`: a key hidden at a random depth of filler
text, or a constant defined far back in code) followed by its answer, laid out as serving lays out a prompt.
The loss is on the answer only, and the query span ends at the question's last token: the query-aware
policy selects the context from the question, never from the answer it is trained to produce.
Keys are drawn from the example's own seeded generator; evaluation draws its keys, depths and lengths
independently (`passkey_accuracy(seed=...)`), so no evaluated prompt is a training example.
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
