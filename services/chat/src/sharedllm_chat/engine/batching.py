"""Continuous batching of decode steps: the active requests' caches stacked into one batch.

Each request prefills alone (its prompt and context are its own), then joins the decode batch. The
stacking itself (left-padded self-attention caches, contexts padded to a common number of keys under a
key mask) is SharedLLM's serving API (`sharedllm.serving.DecodeState`); this module only remembers which
request is which row. When a request leaves or joins, the batch is rebuilt from the rows' unpadded caches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch
from transformers import DynamicCache, PreTrainedModel

from sharedllm.model import InjectedContext
from sharedllm.serving import DecodeState, stackable

Member = TypeVar("Member")

batchable = stackable  # which caches can join a batch


@dataclass(eq=False)
class DecodeBatch(Generic[Member]):
    members: list[Member]  # the requests, in row order
    state: DecodeState

    @classmethod
    def stack(
        cls,
        members: Sequence[Member],
        caches: Sequence[DynamicCache],
        contexts: Sequence[InjectedContext | None],
    ) -> DecodeBatch[Member]:
        return cls(list(members), DecodeState.stack(caches, contexts))

    def row_cache(self, row: int) -> DynamicCache:
        """Row `row`'s cache without its padding (for the request to go on alone or join another batch)."""
        return self.state.row_cache(row)

    def forward(self, model: PreTrainedModel, tokens: list[int]) -> torch.Tensor:
        """Feed one token per row; returns the next-token logits [B, vocab]."""
        return self.state.decode(model, tokens)
