"""ContextCache: one chat's encoded context, stored and grown chunk by chunk.

Like transformers' `Cache` classes it only stores and concatenates tensors; the model encodes
(`model.extend_context(cache, chunks)`) and reads it (`model(..., context_cache=cache)`).
"""

from __future__ import annotations

import torch


class ContextCache:
    """Per injection layer keys and values of one context, appended in chunk order.

    compressed=True (the `right` policy: the selection does not depend on the query): the kept keys, already
    rotated to their chunk positions, as one row [1, kv_heads, num_chunks * kv_per_chunk, head_dim].
    compressed=False (the query-aware policy picks nodes per query): the lower model's raw keys, values and
    probe states of every chunk, [num_chunks, kv_heads, chunk_size, head_dim], compressed for each query.
    Counters `encode_calls` and `chunks_encoded` say how much encoding work went into the cache.
    """

    def __init__(self, num_layers: int, compressed: bool = True):
        self.compressed = compressed
        self.num_chunks = 0
        self.encode_calls = 0
        self.chunks_encoded = 0
        self._keys: list[list[torch.Tensor]] = [[] for _ in range(num_layers)]
        self._values: list[list[torch.Tensor]] = [[] for _ in range(num_layers)]
        self._probes: list[torch.Tensor] = []

    @property
    def num_layers(self) -> int:
        return len(self._keys)

    @property
    def _dim(self) -> int:
        return 2 if self.compressed else 0

    def append(
        self,
        keys: list[torch.Tensor],
        values: list[torch.Tensor],
        num_chunks: int,
        probe: torch.Tensor | None = None,
    ) -> ContextCache:
        """Store `num_chunks` newly encoded chunks after those already held."""
        if len(keys) != self.num_layers or len(values) != self.num_layers:
            raise ValueError(f"expected keys and values for {self.num_layers} layers")
        if not self.compressed and probe is None:
            raise ValueError("an uncompressed cache stores the chunks' probe states too")
        for idx in range(self.num_layers):
            self._keys[idx].append(keys[idx])
            self._values[idx].append(values[idx])
        if probe is not None:
            self._probes.append(probe)
        self.num_chunks += num_chunks
        self.encode_calls += 1
        self.chunks_encoded += num_chunks
        return self

    def layers(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every layer's keys and values joined (kept as one tensor each afterwards: one copy, not two)."""
        self._keys = [self._joined(parts) for parts in self._keys]
        self._values = [self._joined(parts) for parts in self._values]
        return [parts[0] for parts in self._keys], [parts[0] for parts in self._values]

    def _joined(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        return parts if len(parts) == 1 else [torch.cat(parts, dim=self._dim)]  # no copy once joined

    def probe(self) -> torch.Tensor | None:
        if not self._probes:
            return None
        if len(self._probes) > 1:
            self._probes = [torch.cat(self._probes)]
        return self._probes[0]

    def nbytes(self) -> int:
        """Bytes held by the cached tensors."""
        tensors = [t for parts in (*self._keys, *self._values) for t in parts] + self._probes
        return sum(t.numel() * t.element_size() for t in tensors)

    def __repr__(self) -> str:
        return (
            f"ContextCache(num_chunks={self.num_chunks}, encode_calls={self.encode_calls}, "
            f"chunks_encoded={self.chunks_encoded}, nbytes={self.nbytes()})"
        )
