"""The compressed context the upper model reads: per injection layer keys/values plus a key mask."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def key_mask(counts: torch.LongTensor, width: int) -> torch.Tensor | None:
    """[B, width] bool, True for each row's first counts[b] keys; None when every key is real.

    A row without keys keeps its first (all-zero) key: attending to one zero key/value adds exactly zero,
    where a row of only masked keys would be undefined.
    """
    mask = torch.arange(width, device=counts.device)[None] < counts[:, None]
    mask[:, 0] = True
    return None if bool(mask.all()) else mask


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

    def row_mask(self) -> torch.Tensor:
        """[B, S] bool, with None spelled out."""
        if self.mask is not None:
            return self.mask
        return torch.ones(self.batch_size, self.num_keys, dtype=torch.bool, device=self.keys[0].device)

    def nbytes(self) -> int:
        tensors = [*self.keys, *self.values, self.query_cos, self.query_sin]
        if self.mask is not None:
            tensors.append(self.mask)
        return sum(t.numel() * t.element_size() for t in tensors)

    @classmethod
    def stack(cls, contexts: Sequence[InjectedContext | None]) -> InjectedContext | None:
        """One batch from several requests' contexts (each of batch 1, or None for no context), keys
        right-padded to the longest with a key mask; None when no request has a context. Chunk order lives
        in the keys' rotations, not in their slots, so padding changes nothing a row reads."""
        present = [c for c in contexts if c is not None]
        if not present:
            return None
        ref = present[0]
        if any(c.batch_size != 1 for c in present):
            raise ValueError("InjectedContext.stack takes contexts of batch size 1")
        width = max(c.num_keys for c in present)

        def pad(t: torch.Tensor) -> torch.Tensor:
            return F.pad(t, (0, 0, 0, width - t.shape[2]))

        def empty(t: torch.Tensor) -> torch.Tensor:
            return t.new_zeros(1, t.shape[1], width, t.shape[3])

        rows = list(contexts)
        keys = [
            torch.cat([pad(c.keys[i]) if c is not None else empty(ref.keys[i]) for c in rows])
            for i in range(len(ref.keys))
        ]
        values = [
            torch.cat([pad(c.values[i]) if c is not None else empty(ref.values[i]) for c in rows])
            for i in range(len(ref.values))
        ]
        masks = [
            F.pad(c.row_mask(), (0, width - c.num_keys)) if c is not None else _empty_mask(width, ref)
            for c in rows
        ]
        mask = torch.cat(masks)
        return cls(
            keys,
            values,
            None if bool(mask.all()) else mask,
            torch.cat([(c or ref).query_cos for c in rows]),
            torch.cat([(c or ref).query_sin for c in rows]),
        )


def _empty_mask(width: int, ref: InjectedContext) -> torch.Tensor:
    """A row without context: its one all-zero first key (see `key_mask`)."""
    mask = torch.zeros(1, width, dtype=torch.bool, device=ref.keys[0].device)
    mask[:, 0] = True
    return mask
