"""SharedLLM training examples, laid out exactly as serving lays out a prompt (`sharedllm.layout`).

The paper's layout is X = [X_C ; X_D]: the past context X_C in non-overlapping chunks of equal length, the
running text X_D (the most recent tokens) for the upper model, whose loss is the training signal. Chunks are
start-anchored and the running text takes what follows the last whole chunk, as in a served chat.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from sharedllm.layout import layout_prompt, sample_running_length

IGNORE_INDEX = -100  # transformers' label value for "no loss here"


@dataclass
class ChunkedExample:
    context_input_ids: torch.Tensor  # [N, C], N >= 0 complete chunks, oldest first
    input_ids: torch.Tensor  # [U] the running text (upper segment)
    labels: torch.Tensor  # [U] input_ids, or IGNORE_INDEX where no loss is taken
    query_end: int | None = None  # last position of the query span in input_ids (None: the last token)

    @property
    def num_tokens(self) -> int:
        return self.context_input_ids.numel() + self.input_ids.numel()


def query_end_before_answer(labels: torch.Tensor) -> int:
    """The query span of a chat example ends right before its last answer (the last run of labelled
    tokens): the state that selects the context never reads the answer it is trained to produce."""
    labelled = (labels != IGNORE_INDEX).nonzero().flatten()
    if labelled.numel() == 0:
        return labels.numel() - 1
    gaps = (labelled[1:] - labelled[:-1] > 1).nonzero().flatten()
    start = int(labelled[gaps[-1] + 1]) if gaps.numel() else int(labelled[0])
    return max(start - 1, 0)


def layout_example(
    tokens: torch.Tensor,
    chunk_size: int,
    upper_window: int,
    labels: torch.Tensor | None = None,
    max_chunks: int | None = None,
    query_before_answer: bool = False,
) -> ChunkedExample:
    """One example in the serving layout; with max_chunks, only the most recent chunks are kept (whole
    chunks dropped from the start, so the others keep their boundaries)."""
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    labels = tokens.clone() if labels is None else torch.as_tensor(labels, dtype=torch.long)
    layout = layout_prompt(tokens, chunk_size, upper_window)
    context = layout.context
    if max_chunks is not None:
        context = context[context.shape[0] - min(max_chunks, context.shape[0]) :]
    cut = layout.num_chunks * chunk_size
    running_labels = labels[cut:]
    query_end = query_end_before_answer(running_labels) if query_before_answer else None
    return ChunkedExample(context, layout.running, running_labels, query_end)


def chunk_document(
    tokens: torch.Tensor,
    n_chunks: int,
    chunk_size: int,
    upper_len: int,
    min_chunks: int = 1,
    labels: torch.Tensor | None = None,
    seed: int = 0,
) -> list[ChunkedExample]:
    """Non-overlapping training windows over one document, each n_chunks chunks + a running text whose
    length is drawn as serving produces them (uniform over (upper_len - chunk_size, upper_len]).

    The tail of the document becomes one more window with fewer chunks when it still holds min_chunks
    chunks, so short documents are used too (batches then mix rows with different chunk counts).
    """
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    labels = tokens if labels is None else torch.as_tensor(labels, dtype=torch.long)
    rng = random.Random(seed)
    examples = []
    start = 0
    while start < tokens.numel():
        window = n_chunks * chunk_size + sample_running_length(chunk_size, upper_len, rng)
        end = start + window
        example = layout_example(tokens[start:end], chunk_size, upper_len, labels[start:end])
        if example.context_input_ids.shape[0] < min_chunks:
            break
        examples.append(example)
        start = end
    return examples


def collate_chunked(examples: list[ChunkedExample], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Batch rows with different chunk counts (context_mask marks real chunks) and upper lengths
    (right-padded, attention_mask marks real tokens, padded labels are ignored); query_positions when
    the examples carry query spans."""
    if not examples:
        raise ValueError("cannot collate an empty batch")
    batch, chunk_size = len(examples), None
    for ex in examples:
        if ex.context_input_ids.numel():
            chunk_size = ex.context_input_ids.shape[1]
    n_max = max(ex.context_input_ids.shape[0] for ex in examples)
    u_max = max(ex.input_ids.numel() for ex in examples)
    input_ids = torch.full((batch, u_max), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, u_max), dtype=torch.long)
    labels = torch.full((batch, u_max), IGNORE_INDEX, dtype=torch.long)
    for i, ex in enumerate(examples):
        u = ex.input_ids.numel()
        input_ids[i, :u], attention_mask[i, :u], labels[i, :u] = ex.input_ids, 1, ex.labels
    out = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
    if n_max and chunk_size is not None:
        context = torch.full((batch, n_max, chunk_size), pad_token_id, dtype=torch.long)
        context_mask = torch.zeros((batch, n_max), dtype=torch.bool)
        for i, ex in enumerate(examples):
            n = ex.context_input_ids.shape[0]
            context[i, :n], context_mask[i, :n] = ex.context_input_ids, True
        out["context_input_ids"], out["context_mask"] = context, context_mask
    if any(ex.query_end is not None for ex in examples):
        ends = [ex.query_end if ex.query_end is not None else ex.input_ids.numel() - 1 for ex in examples]
        out["query_positions"] = torch.tensor(ends, dtype=torch.long)
    return out
