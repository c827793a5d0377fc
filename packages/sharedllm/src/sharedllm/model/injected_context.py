"""The compressed context the upper model reads: per injection layer keys/values plus a key mask."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class InjectedContext:
    """What the cross-attention blocks read, built once per prompt and reused for every generated token.

    keys/values: one [B, kv_heads, S, head_dim] tensor per injection layer, already rotated to their chunk
    positions. mask: [B, S] bool (True = real key) or None when every key is real. query_cos/query_sin:
    [B, 1, head_dim], the rotation of the queries, which sit one position after the last chunk.
    A batch of 1 is broadcast to any batch size (one chat context, several sampled continuations).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    mask: torch.Tensor | None
    query_cos: torch.Tensor
    query_sin: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.keys[0].shape[0]

    @property
    def num_keys(self) -> int:
        return self.keys[0].shape[2]

    def nbytes(self) -> int:
        tensors = [*self.keys, *self.values, self.query_cos, self.query_sin]
        if self.mask is not None:
            tensors.append(self.mask)
        return sum(t.numel() * t.element_size() for t in tensors)
