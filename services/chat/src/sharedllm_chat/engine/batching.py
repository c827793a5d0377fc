"""Continuous batching of decode steps: the active requests' caches stacked into one batch.

Each request prefills alone (its prompt and context are its own), then joins the decode batch. The batch
holds the requests' self-attention caches left-padded to a common length (padding masked out, positions
given per row) and their SharedLLM contexts padded to a common number of keys (a key mask; a request
without context gets only masked zero keys, so its cross-attention adds exactly zero). One forward per
round then advances every request by a token. When a request leaves or joins, the batch is rebuilt from
the rows' unpadded caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


def batchable(cache: Any) -> bool:
    """Only plain full-attention dynamic caches are stacked (sliding-window layers would need more care)."""
    return isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _pad_left(t: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(t, (0, 0, pad, 0)) if pad else t


@dataclass(eq=False)
class DecodeBatch:
    members: list[Any]  # the requests, in row order
    cache: DynamicCache
    lengths: list[int]  # real tokens per row
    attention_mask: torch.Tensor  # [B, max(lengths)], 0 over the left padding
    injected: Any  # a batched InjectedContext or None

    @classmethod
    def stack(cls, members: list[Any], caches: list[DynamicCache], contexts: list[Any]) -> DecodeBatch:
        lengths = [c.get_seq_length() for c in caches]
        longest = max(lengths)
        data = []
        for layer_idx in range(len(caches[0].layers)):
            keys = [
                _pad_left(c.layers[layer_idx].keys, longest - n) for c, n in zip(caches, lengths, strict=True)
            ]
            values = [
                _pad_left(c.layers[layer_idx].values, longest - n)
                for c, n in zip(caches, lengths, strict=True)
            ]
            data.append((torch.cat(keys), torch.cat(values)))
        device = data[0][0].device
        mask = torch.zeros(len(caches), longest, dtype=torch.long, device=device)
        for row, n in enumerate(lengths):
            mask[row, longest - n :] = 1
        return cls(list(members), DynamicCache(ddp_cache_data=data), lengths, mask, stack_contexts(contexts))

    def row_cache(self, row: int) -> DynamicCache:
        """Row `row`'s cache without its padding (for the request to go on alone or join another batch)."""
        start = self.attention_mask.shape[1] - self.lengths[row]
        data = [
            (layer.keys[row : row + 1, :, start:], layer.values[row : row + 1, :, start:])
            for layer in self.cache.layers
        ]
        return DynamicCache(ddp_cache_data=data)

    def forward(self, model: Any, kv_arg: str, tokens: list[int]) -> torch.Tensor:
        """Feed one token per row; returns the next-token logits [B, vocab]."""
        device = self.attention_mask.device
        ones = torch.ones(len(tokens), 1, dtype=self.attention_mask.dtype, device=device)
        self.attention_mask = torch.cat([self.attention_mask, ones], dim=1)
        positions = torch.tensor(self.lengths, device=device).view(-1, 1)
        kwargs = {kv_arg: self.cache, "use_cache": True}
        if self.injected is not None:
            kwargs["injected_context"] = self.injected
        out = model(
            input_ids=torch.tensor(tokens, device=device).view(-1, 1),
            attention_mask=self.attention_mask,
            position_ids=positions,
            **kwargs,
        )
        self.lengths = [n + 1 for n in self.lengths]
        return out.logits[:, -1]


def stack_contexts(contexts: list[Any]) -> Any:
    """Batch SharedLLM contexts (InjectedContext, batch 1 each, or None) with a key mask; None if all None."""
    present = [c for c in contexts if c is not None]
    if not present:
        return None
    ref = present[0]
    longest = max(c.num_keys for c in present)
    n_layers = len(ref.keys)
    keys, values, masks, cos, sin = [[] for _ in range(n_layers)], [[] for _ in range(n_layers)], [], [], []
    for c in contexts:
        n = c.num_keys if c is not None else 0
        for i in range(n_layers):
            k, v = (
                (c.keys[i], c.values[i])
                if c is not None
                else (ref.keys[i][:, :, :0], ref.values[i][:, :, :0])
            )
            # Padding on the right: chunk order lives in the keys' rotations, not in their slots.
            keys[i].append(F.pad(k, (0, 0, 0, longest - n)))
            values[i].append(F.pad(v, (0, 0, 0, longest - n)))
        row_mask = torch.zeros(1, longest, dtype=torch.bool, device=ref.keys[0].device)
        row_mask[:, :n] = True if c is None or c.mask is None else c.mask
        masks.append(row_mask)
        cos.append(c.query_cos if c is not None else ref.query_cos)
        sin.append(c.query_sin if c is not None else ref.query_sin)
    mask = torch.cat(masks)
    return type(ref)(
        [torch.cat(k) for k in keys],
        [torch.cat(v) for v in values],
        None if bool(mask.all()) else mask,
        torch.cat(cos),
        torch.cat(sin),
    )
