"""Per-conversation context caches in an LRU bounded in bytes.

An entry remembers a digest of each chunk it has encoded. A new turn reuses the entry when its chunks
start with exactly those chunks (the chat grew by appending) and encodes only the rest; a conversation
whose history was edited gets a fresh cache. Only the scheduler's worker thread changes the store; the
lock keeps readers on other threads (metrics, tests) from seeing the dict mid-change.
Caches only grow by appending, and a request keeps the context it read at prefill, so a turn that extends
a conversation's cache never changes what another request on that conversation is decoding with.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from sharedllm import ContextCache, SharedLLMForCausalLM


def chunk_digest(chunk: torch.Tensor) -> bytes:
    return hashlib.blake2b(chunk.to(torch.int64).numpy().tobytes(), digest_size=16).digest()


@dataclass
class CacheEntry:
    cache: ContextCache
    digests: list[bytes] = field(default_factory=list)
    in_use: int = 0  # requests reading it right now; not evicted while > 0

    def nbytes(self) -> int:
        return int(self.cache.nbytes())

    def reusable_prefix(self, chunks: torch.Tensor) -> int:
        """How many of this entry's chunks equal the leading chunks of `chunks` (all or nothing)."""
        n = len(self.digests)
        if n > chunks.shape[0]:
            return 0
        ok = all(chunk_digest(chunks[i]) == d for i, d in enumerate(self.digests))
        return n if ok else 0


@dataclass
class StoreStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    chunks_encoded: int = 0
    chunks_reused: int = 0


class ContextStore:
    def __init__(self, model: SharedLLMForCausalLM | None, max_bytes: int) -> None:
        """`model` encodes the chunks (None for a plain causal LM, which never has any)."""
        self._model = model
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._lock = threading.RLock()
        self.stats = StoreStats()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def nbytes(self) -> int:
        with self._lock:
            entries = list(self._entries.values())
        return sum(e.nbytes() for e in entries)

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            return self._entries.get(key)

    def acquire(self, key: str | None, chunks: torch.Tensor) -> tuple[CacheEntry, bool]:
        """The entry to run `chunks` with, extended to hold all of them; (entry, stored in the LRU)."""
        entry = self.get(key) if key is not None else None
        if entry is not None and entry.reusable_prefix(chunks) != len(entry.digests):
            entry = None  # the history changed: start over (a request still decoding keeps its own copy)
        if entry is None:
            if self._model is None:
                raise ValueError("this model reads no context chunks")
            entry = CacheEntry(self._model.new_context_cache())
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        new = chunks[len(entry.digests) :]
        if new.shape[0]:
            self._model.extend_context(entry.cache, new)
            entry.digests.extend(chunk_digest(c) for c in new)
        self.stats.chunks_encoded += int(new.shape[0])
        self.stats.chunks_reused += len(entry.digests) - int(new.shape[0])
        entry.in_use += 1
        stored = key is not None
        if stored:
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
            self._evict()
        return entry, stored

    def release(self, entry: CacheEntry) -> None:
        entry.in_use -= 1
        self._evict()

    def _evict(self) -> None:
        """Drop least recently used idle entries until the store fits its byte budget."""
        with self._lock:
            total = self.nbytes()
            for key in list(self._entries):
                if total <= self.max_bytes:
                    break
                entry = self._entries[key]
                if entry.in_use:
                    continue
                total -= entry.nbytes()
                del self._entries[key]
                self.stats.evictions += 1
