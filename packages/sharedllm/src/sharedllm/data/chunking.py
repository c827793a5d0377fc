"""Cut token sequences into SharedLLM examples: n context chunks for the lower model + an upper segment.

The paper's layout is X = [X_C ; X_D]: the past context X_C in non-overlapping chunks of equal length, the
running text X_D (the most recent tokens) for the upper model, whose loss is the training signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE_INDEX = -100  # transformers' label value for "no loss here"


@dataclass
class ChunkedExample:
    context_input_ids: torch.Tensor  # [N, C], N >= 0 complete chunks, oldest first
    input_ids: torch.Tensor  # [U] the upper segment
    labels: torch.Tensor  # [U] input_ids, or IGNORE_INDEX where no loss is taken

    @property
    def num_tokens(self) -> int:
        return self.context_input_ids.numel() + self.input_ids.numel()


def split_for_sharedllm(
    tokens: torch.Tensor,
    chunk_size: int,
    upper_len: int,
    labels: torch.Tensor | None = None,
    max_chunks: int | None = None,
) -> ChunkedExample:
    """The last upper_len tokens go up; the context before them is cut into complete chunks ending right
    before the upper segment (the oldest remainder, shorter than a chunk, is dropped)."""
    if chunk_size <= 0 or upper_len <= 0:
        raise ValueError(f"chunk_size ({chunk_size}) and upper_len ({upper_len}) must be positive")
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    labels = tokens.clone() if labels is None else torch.as_tensor(labels, dtype=torch.long)
    upper_len = min(upper_len, tokens.numel())
    context = tokens[: tokens.numel() - upper_len]
    n = context.numel() // chunk_size
    if max_chunks is not None:
        n = min(n, max_chunks)
    chunks = context[context.numel() - n * chunk_size :].view(n, chunk_size)
    return ChunkedExample(chunks, tokens[-upper_len:], labels[-upper_len:])


def chunk_document(
    tokens: torch.Tensor,
    n_chunks: int,
    chunk_size: int,
    upper_len: int,
    min_chunks: int = 1,
    labels: torch.Tensor | None = None,
) -> list[ChunkedExample]:
    """Non-overlapping training windows of n_chunks * chunk_size + upper_len tokens over one document.

    The tail of the document becomes one more window with fewer chunks when it still holds min_chunks
    chunks, so short documents are used too (batches then mix rows with different chunk counts).
    """
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    labels = tokens if labels is None else torch.as_tensor(labels, dtype=torch.long)
    window = n_chunks * chunk_size + upper_len
    examples = []
    start = 0
    while start < tokens.numel():
        piece = tokens[start : start + window]
        if piece.numel() < min_chunks * chunk_size + upper_len:
            break
        examples.append(
            split_for_sharedllm(piece, chunk_size, upper_len, labels=labels[start : start + window])
        )
        start += window
    return examples


def collate_chunked(examples: list[ChunkedExample], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Batch rows with different chunk counts (context_mask marks real chunks) and upper lengths
    (right-padded, attention_mask marks real tokens, padded labels are ignored)."""
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
    return out
