"""Torch datasets of SharedLLM examples built from tokenized documents or chats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from sharedllm.data.chunking import IGNORE_INDEX, ChunkedExample, chunk_document, layout_example


class ChunkedDataset(Dataset):
    def __init__(self, examples: Sequence[ChunkedExample]):
        if not examples:
            raise ValueError("no training examples: documents are shorter than one chunk + the upper segment")
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> ChunkedExample:
        return self.examples[i]

    @property
    def num_tokens(self) -> int:
        return sum(ex.num_tokens for ex in self.examples)


def lm_examples(
    docs: Sequence[np.ndarray],
    n_chunks: int,
    chunk_size: int,
    upper_len: int,
    min_chunks: int = 1,
    seed: int = 0,
) -> ChunkedDataset:
    """Continual-pretraining examples: every document cut into n context chunks + a running text."""
    examples = []
    for i, doc in enumerate(docs):
        tokens = torch.from_numpy(np.asarray(doc, dtype=np.int64))
        examples.extend(
            chunk_document(tokens, n_chunks, chunk_size, upper_len, min_chunks=min_chunks, seed=seed + i)
        )
    return ChunkedDataset(examples)


def chat_examples(
    encoded: Sequence[tuple[torch.Tensor, torch.Tensor]],
    chunk_size: int,
    upper_len: int,
    max_chunks: int | None,
) -> ChunkedDataset:
    """Instruction-tuning examples in the serving layout: start-anchored chunks of the chat's beginning,
    the rest as running text; the query span ends before the last answer (see `query_end_before_answer`).

    Chats without any assistant token in their running text carry no loss and are dropped.
    """
    examples = []
    for ids, labels in encoded:
        ex = layout_example(ids, chunk_size, upper_len, labels, max_chunks, query_before_answer=True)
        if (ex.labels != IGNORE_INDEX).any():
            examples.append(ex)
    return ChunkedDataset(examples)
