"""ContextCache: a chat's past context, encoded once and grown chunk by chunk."""

from __future__ import annotations

import torch

from sharedllm.model.injected_context import InjectedContext
from sharedllm.model.modeling import EncodedChunks, SharedLLMForCausalLM


class ContextCache:
    """Holds one context's chunks as the model will read them; `extend` encodes only the new chunks.

    With the `right` policy the tree selection does not depend on the query, so only the compressed keys and
    values are kept (kv_per_chunk per chunk). The query-aware policy picks nodes per query, so it keeps the
    lower model's full keys/values and probe states and compresses them for each new query.
    Counters `encode_calls` and `chunks_encoded` say how much encoding work the cache has done.
    """

    def __init__(self, model: SharedLLMForCausalLM):
        self.model = model
        self.num_chunks = 0
        self.encode_calls = 0
        self.chunks_encoded = 0
        self._keys: list[list[torch.Tensor]] = [[] for _ in range(model.config.num_injection_layers)]
        self._values: list[list[torch.Tensor]] = [[] for _ in range(model.config.num_injection_layers)]
        self._probes: list[torch.Tensor] = []
        self._joined: InjectedContext | None = None

    def extend(self, chunks: torch.Tensor) -> ContextCache:
        """Append [N, chunk_size] token ids (oldest first) after the chunks already held."""
        chunks = self._check(chunks)
        if chunks.shape[0] == 0:
            return self
        positions = torch.arange(self.num_chunks, self.num_chunks + chunks.shape[0], device=chunks.device)
        if self.model.tree.needs_query:
            encoded = self.model.encode_chunks(chunks)
            keys, values = encoded.keys, encoded.values
            self._probes.append(encoded.probe)
        else:  # stored as [1, H, n*S, D] rows, the layout cross-attention reads
            keys, values = self.model.compress_chunks(chunks, positions)
            keys, values = [_as_row(k) for k in keys], [_as_row(v) for v in values]
        for idx in range(len(self._keys)):
            self._keys[idx].append(keys[idx])
            self._values[idx].append(values[idx])
        self.num_chunks += chunks.shape[0]
        self.encode_calls += 1
        self.chunks_encoded += chunks.shape[0]
        self._joined = None
        return self

    def _check(self, chunks) -> torch.LongTensor:
        chunks = torch.as_tensor(chunks, dtype=torch.long, device=self.model.device)
        chunk_size = self.model.config.chunk_size
        if chunks.dim() != 2 or chunks.shape[1] != chunk_size:
            raise ValueError(f"chunks must be [N, {chunk_size}] token ids, got shape {tuple(chunks.shape)}")
        vocab = self.model.config.base_config.vocab_size
        if chunks.numel() and (int(chunks.min()) < 0 or int(chunks.max()) >= vocab):
            raise ValueError(f"chunk token ids must be in [0, {vocab})")
        return chunks

    def injected_context(self, query: torch.Tensor | None = None) -> InjectedContext | None:
        """The context as cross-attention reads it (batch of one, broadcast to any batch)."""
        if self.num_chunks == 0:
            return None
        if self.model.tree.needs_query:
            return self._select_for_query(query)
        if self._joined is None:
            keys = [torch.cat(k, dim=2) for k in self._keys]
            values = [torch.cat(v, dim=2) for v in self._values]
            self._keys, self._values = [[k] for k in keys], [[v] for v in values]  # one copy, not two
            self._joined = self._as_context(keys, values)
        return self._joined

    def _select_for_query(self, query: torch.Tensor | None) -> InjectedContext:
        if query is None:
            raise ValueError("the query-aware policy needs the query's state to read a ContextCache")
        if query.shape[0] != 1:
            raise ValueError("a ContextCache holds one context: use batch size 1 with the query-aware policy")
        encoded = EncodedChunks(
            [torch.cat(k) for k in self._keys], [torch.cat(v) for v in self._values], torch.cat(self._probes)
        )
        positions = torch.arange(self.num_chunks, device=query.device)
        keys, values = self.model.compress(encoded, positions, query.expand(self.num_chunks, -1))
        return self._as_context([_as_row(k) for k in keys], [_as_row(v) for v in values])

    def _as_context(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> InjectedContext:
        position = torch.tensor([[self.num_chunks]], device=keys[0].device)
        cos, sin = self.model._rotation(keys[0], position)
        return InjectedContext(keys, values, None, cos, sin)

    def nbytes(self) -> int:
        """Bytes held by the cached tensors."""
        tensors = [t for parts in (*self._keys, *self._values) for t in parts] + self._probes
        return sum(t.numel() * t.element_size() for t in tensors)

    def __repr__(self) -> str:
        return (
            f"ContextCache(num_chunks={self.num_chunks}, encode_calls={self.encode_calls}, "
            f"chunks_encoded={self.chunks_encoded}, nbytes={self.nbytes()})"
        )


def _as_row(chunks: torch.Tensor) -> torch.Tensor:
    """[N, H, S, D] per-chunk keys -> one row [1, H, N*S, D], chunk-major like a batched forward pass."""
    return chunks.permute(1, 0, 2, 3).reshape(1, chunks.shape[1], -1, chunks.shape[3])
