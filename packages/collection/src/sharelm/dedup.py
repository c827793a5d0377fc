"""Deduplication: exact (normalised content hash) and near-duplicate (MinHash LSH via `datasketch`).

Exact keys are 64-bit hashes kept for the whole run (16 to 32 bytes per conversation, stdlib arrays: no
numpy needed), with the kept conversation's id for the last `window` of them (so an exact drop names it).
Near duplicates:
MinHash signatures (datasketch's affine32 scheme, computed for a whole batch at once with numpy) in a
banded LSH index over the last `window` kept conversations, so memory stops growing once the window is
full. Every drop is reported with its reason.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Literal

try:
    import numpy as np
except ModuleNotFoundError:  # no [clean] extra: exact dedup still works (stdlib only), near-dup does not
    np = None  # type: ignore[assignment]

from sharelm.schema import Conversation

_U32 = np.uint32 if np is not None else None


def normalise(text: str) -> str:
    """Case, Unicode width and whitespace differences do not make a conversation new."""
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):  # ASCII is NFKC already
        text = unicodedata.normalize("NFKC", text)
    text = text.casefold()
    # Already single-spaced (the common case): every whitespace character but " " is unprintable, so the
    # split and join below would give the same text back; these C tests are cheaper than building the words.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


# Random odd weights per byte position in a token: a token's hash is sum(weight[pos] * (byte + 1)) mod 2^32,
# computed for all tokens at once with numpy (a Python loop over words costs more than everything else).
_POS_WEIGHTS = (
    (np.random.RandomState(20240601).randint(0, 1 << 31, 64, dtype=np.uint32) * 2 + 1).astype(_U32)
    if np is not None
    else None
)


def _token_hashes(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit hash, first byte offset) of each token of UTF-8 bytes; spaces and newlines separate."""
    if len(b) == 0:
        return np.empty(0, _U32), np.empty(0, np.int64)
    word = (b != 32) & (b != 10)
    start = word & np.concatenate(([True], ~word[:-1]))
    idx = np.flatnonzero(word)
    tok = np.cumsum(start, dtype=np.int32)[idx] - 1
    first = np.flatnonzero(start)
    pos = np.minimum(idx - first[tok], len(_POS_WEIGHTS) - 1)
    with np.errstate(over="ignore"):
        vals = (b[idx].astype(_U32) + _U32(1)) * _POS_WEIGHTS[pos]
        return np.add.reduceat(vals, np.searchsorted(idx, first)).astype(_U32), first


def token_hashes(norm: str) -> np.ndarray:
    """32-bit hashes of the space-separated tokens of a normalised text, in order."""
    return _token_hashes(np.frombuffer(norm.encode("utf-8", "surrogatepass"), np.uint8))[0]


def content_key(conv: Conversation, norms: list[str] | None = None) -> int:
    """64-bit hash of the roles and normalised contents (ids, metadata and timestamps are ignored)."""
    norms = norms if norms is not None else [normalise(m.content) for m in conv.conversation]
    parts = [f"{m.role}\x1f{norm}\x1e" for m, norm in zip(conv.conversation, norms, strict=True)]
    h = hashlib.blake2b("".join(parts).encode("utf-8", "surrogatepass"), digest_size=8)  # one update
    return int.from_bytes(h.digest(), "little")


def _kgrams(hv: np.ndarray, k: int) -> np.ndarray:
    """Combine k consecutive token hashes into one k-gram hash (multiply-xor in wrapping uint32)."""
    out = hv[: len(hv) - k + 1].copy()
    with np.errstate(over="ignore"):
        for j in range(1, k):
            out = (out * _U32(0x01000193)) ^ hv[j : len(hv) - k + 1 + j]
    return out


def _char_grams(norm: str) -> np.ndarray:
    grams = [norm[i : i + 5] for i in range(0, max(1, len(norm) - 4))]
    return np.unique(
        np.fromiter((zlib.crc32(g.encode("utf-8", "surrogatepass")) for g in grams), _U32, len(grams))
    )


def shingle_hashes(text: str, k: int = 3) -> np.ndarray:
    """Distinct 32-bit hashes of the word k-grams of the normalised text (character 5-grams for unspaced
    scripts such as Chinese or Thai)."""
    norm = normalise(text)
    hv = token_hashes(norm)
    if len(hv) < k + 2 and len(norm) > 20:
        return _char_grams(norm)
    return np.unique(hv if len(hv) < k else _kgrams(hv, k))


def batch_shingle_hashes(texts: list[str], k: int = 3, normalised: bool = False) -> list[np.ndarray]:
    """`shingle_hashes` for many texts at once (one numpy pass over the joined batch), possibly repeating
    a k-gram: MinHash does not care, and skipping the de-duplication halves the cost."""
    norms = texts if normalised else [normalise(t) for t in texts]
    # normalise() removed every newline, so "\n" only separates texts.
    b = np.frombuffer("\n".join(norms).encode("utf-8", "surrogatepass"), np.uint8)
    hv, first = _token_hashes(b)
    doc = np.searchsorted(np.flatnonzero(b == 10), first)  # separators before a token = its text's index
    n_tokens = np.bincount(doc, minlength=len(texts)).tolist()
    result: list[np.ndarray] = [np.empty(0, _U32)] * len(texts)
    if len(hv) >= k:
        # k-grams within one text only; they stay in text order, so each text's are one contiguous run.
        # Repeated k-grams are kept: a minimum over a multiset equals the minimum over its set.
        grams = _kgrams(hv, k)
        same = doc[: len(doc) - k + 1] == doc[k - 1 :]
        ghash, gdoc = grams[same], doc[: len(grams)][same]
        bounds = np.searchsorted(gdoc, np.arange(len(texts) + 1))
        result = [ghash[bounds[i] : bounds[i + 1]] for i in range(len(texts))]
    for i, (norm, n) in enumerate(zip(norms, n_tokens, strict=True)):
        if n < k + 2 and len(norm) > 20:
            result[i] = _char_grams(norm)
        elif n < k:
            result[i] = token_hashes(norm)
    return result


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, as datasketch applies it before its affine32 permutations."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


@dataclass
class DropRecord:
    conversation_id: str
    reason: Literal["exact", "near"]
    duplicate_of: str | None  # the kept conversation it matched (exact: None past the `window`, see KeptIds)
    similarity: float  # estimated Jaccard similarity of word 3-grams (1.0 for exact)
    content_hash: str  # exact: the kept conversation has the same hash

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DedupStats:
    seen: int = 0
    kept: int = 0
    exact: int = 0
    near: int = 0
    examples: list[DropRecord] = field(default_factory=list)


class _Table64:
    """Open addressing with linear probing in one `array("Q")` (stdlib: exact dedup needs no numpy); key 0
    marks an empty slot."""

    def __init__(self, capacity: int):
        self.table = array("Q", [0]) * capacity
        self.mask = capacity - 1
        self.size = 0

    def add(self, key: int) -> bool:
        table, mask = self.table, self.mask
        i = (key ^ (key >> 29)) & mask
        while True:
            slot = int(table[i])
            if slot == key:
                return False
            if slot == 0:
                table[i] = key
                self.size += 1
                if self.size * 2 > len(table):
                    self._grow()
                return True
            i = (i + 1) & mask

    def __contains__(self, key: int) -> bool:
        i = (key ^ (key >> 29)) & self.mask
        while True:
            slot = int(self.table[i])
            if slot == key or slot == 0:
                return slot == key
            i = (i + 1) & self.mask

    def _grow(self) -> None:
        old = [key for key in self.table if key]
        self.table = array("Q", [0]) * (len(self.table) * 2)
        self.mask = len(self.table) - 1
        self.size = 0
        for key in old:
            self.add(key)


class HashSet64:
    """A set of 64-bit keys in flat arrays: 16 to 32 bytes a key, where a Python set of ints takes about
    60. Split into 256 shards by the key's top bits, so growing one shard never needs much memory at once
    (a single table doubling would briefly hold old, new and the keys in between). 0 is stored as 1."""

    SHARDS = 256

    def __init__(self, shard_capacity: int = 256):
        self.shards = [_Table64(shard_capacity) for _ in range(self.SHARDS)]

    def __len__(self) -> int:
        return sum(s.size for s in self.shards)

    def add(self, key: int) -> bool:
        """Insert; False when the key was already there."""
        key = key or 1
        return self.shards[key >> 56].add(key)

    def __contains__(self, key: int) -> bool:
        key = key or 1
        return key in self.shards[key >> 56]


class KeptIds:
    """The kept conversation's id for the exact keys of the last `capacity` distinct conversations, so an
    exact drop can name it. Bounded: about 230 bytes an entry with 32-character ids (23 MB for the default
    100k window). Measured on exact-only dedup of generated conversations: peak RSS 77 MB at 100k, 106 MB
    at 1M, the difference being the exact keys. An older key's id is forgotten: its later exact
    duplicates are still dropped, with `duplicate_of` None."""

    def __init__(self, capacity: int):
        self.ring: list[int | None] = [None] * max(1, capacity)
        self.ids: dict[int, str] = {}
        self.next = 0

    def add(self, key: int, cid: str) -> None:
        """`key` is new (the exact set said so), so it holds at most one ring slot."""
        old = self.ring[self.next]
        if old is not None:
            del self.ids[old]
        self.ring[self.next], self.ids[key] = key, cid
        self.next = (self.next + 1) % len(self.ring)

    def redirect(self, key: int, cid: str) -> None:
        """The first holder of `key` was dropped as a near duplicate of `cid`: point at the kept one."""
        if key in self.ids:
            self.ids[key] = cid

    def get(self, key: int) -> str | None:
        return self.ids.get(key)


class BandIndex:
    """MinHash LSH over a ring buffer of the last `capacity` kept signatures.

    One dict per band maps the band's 64-bit key to the newest slot holding it; candidates are verified on
    the full signature. Memory is fixed by `capacity` (about 0.8 KB a conversation with 64 permutations,
    several times less than datasketch's `MinHashLSH`, which keeps sets of keys per bucket).
    """

    def __init__(self, capacity: int, num_perm: int, bands: int, rows: int):
        self.capacity, self.bands, self.rows = max(1, capacity), bands, rows
        self.sigs = np.zeros((self.capacity, num_perm), _U32)
        self.keys = np.zeros((self.capacity, bands), np.int64)
        self.ids: list[str | None] = [None] * self.capacity
        self.tables: list[dict[int, int]] = [{} for _ in range(bands)]
        self.next = 0
        mix = np.random.RandomState(7).randint(1, 1 << 62, rows, dtype=np.int64) | 1
        self._mix = mix.astype(np.uint64)

    def __len__(self) -> int:
        return sum(i is not None for i in self.ids)

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """[n, bands] 64-bit keys, each combining one band's `rows` values (multiply-add, wrapping)."""
        banded = sigs[:, : self.bands * self.rows].reshape(len(sigs), self.bands, self.rows).astype(np.uint64)
        with np.errstate(over="ignore"):
            return (banded * self._mix).sum(axis=2).view(np.int64)

    def best_match(self, sig: np.ndarray, keys: np.ndarray) -> tuple[str, float] | None:
        slots = {t.get(k) for t, k in zip(self.tables, keys.tolist(), strict=True)} - {None}
        best = None
        for slot in slots:
            sim = float(np.count_nonzero(self.sigs[slot] == sig)) / len(sig)
            if best is None or sim > best[1]:
                best = (self.ids[slot], sim)
        return best

    def insert(self, cid: str, sig: np.ndarray, keys: np.ndarray) -> None:
        slot = self.next
        self.next = (slot + 1) % self.capacity
        if self.ids[slot] is not None:  # evict the oldest: forget its band keys that still point here
            for table, old in zip(self.tables, self.keys[slot].tolist(), strict=True):
                if table.get(old) == slot:
                    del table[old]
        self.sigs[slot], self.keys[slot], self.ids[slot] = sig, keys, cid
        for table, k in zip(self.tables, keys.tolist(), strict=True):
            table[k] = slot


class Deduplicator:
    """`filter(convs)` yields the first occurrence of each conversation and records the drops."""

    def __init__(
        self,
        *,
        near: bool = True,
        threshold: float = 0.8,
        num_perm: int = 64,
        window: int = 100_000,
        min_tokens: int = 20,
        seed: int = 1,
        batch_size: int = 512,
        keep_examples: int = 100,
    ):
        self.near = near
        self.threshold = threshold
        self.num_perm = num_perm
        self.window = window
        self.min_tokens = min_tokens
        self.seed = seed
        self.batch_size = batch_size
        self.keep_examples = keep_examples
        self.stats = DedupStats()
        self.drops: list[DropRecord] = []  # drained by the caller (`pop_drops`) as it streams
        self._exact = HashSet64()
        self._kept_ids = KeptIds(window)
        if near:
            from datasketch import MinHash
            from datasketch.lsh import _optimal_param

            # datasketch's affine32 permutations: our signatures are datasketch MinHashes (a test checks),
            # and its band/row split for the threshold (equal weights on false positives and negatives).
            self._a, self._b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
            self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
            self.index = BandIndex(window, num_perm, self.bands, self.rows)

    def signatures(self, texts: list[str], normalised: bool = False) -> list[np.ndarray | None]:
        """MinHash signatures for a batch (None where a text is too short to judge), vectorised in blocks
        small enough for the CPU cache."""
        # 64 texts per numpy pass: bigger batches fall out of the CPU cache and run slower per text.
        hashes = [
            h
            for s in range(0, len(texts), 64)
            for h in batch_shingle_hashes(texts[s : s + 64], normalised=normalised)
        ]
        result: list[np.ndarray | None] = [None] * len(texts)
        ok = [i for i, h in enumerate(hashes) if len(h) >= self.min_tokens - 2]
        for s in range(0, len(ok), 16):
            block = ok[s : s + 16]
            flat = np.concatenate([hashes[i] for i in block])
            starts = np.cumsum([0] + [len(hashes[i]) for i in block[:-1]])
            # [perms x shingles], in place: the minimum then runs along contiguous rows (3x faster than
            # [shingles x perms]; the same values).
            with np.errstate(over="ignore"):
                phv = np.multiply.outer(self._a, _fmix32(flat))
                phv += self._b[:, None]
            mins = np.ascontiguousarray(np.minimum.reduceat(phv, starts, axis=1).T)
            for i, row in zip(block, mins, strict=True):
                result[i] = row
        return result

    def _near_match(self, key: str, sig: np.ndarray, keys: np.ndarray) -> tuple[str, float] | None:
        """The most similar kept conversation at or above the threshold; else index this one."""
        best = self.index.best_match(sig, keys)
        if best is not None and best[1] >= self.threshold:
            return best
        self.index.insert(key, sig, keys)
        return None

    def _drop(self, record: DropRecord) -> None:
        self.drops.append(record)
        if len(self.stats.examples) < self.keep_examples:
            self.stats.examples.append(record)

    def pop_drops(self) -> list[DropRecord]:
        drops, self.drops = self.drops, []
        return drops

    def filter(self, convs: Iterable[Conversation]) -> Iterator[Conversation]:
        batch: list[Conversation] = []
        for conv in convs:
            batch.append(conv)
            if len(batch) >= self.batch_size:
                yield from self._filter_batch(batch)
                batch = []
        if batch:
            yield from self._filter_batch(batch)

    def _filter_batch(self, batch: list[Conversation]) -> Iterator[Conversation]:
        fresh: list[tuple[Conversation, int]] = []
        texts: list[str] = []  # normalised once, for both the exact key and the shingles
        exact: list[tuple[str, int]] = []  # logged once this batch's near drops are known (duplicate_of)
        for conv in batch:
            self.stats.seen += 1
            norms = [normalise(m.content) for m in conv.conversation]
            key = content_key(conv, norms)
            if not self._exact.add(key):
                self.stats.exact += 1
                exact.append((conv.conversation_id, key))
                continue
            self._kept_ids.add(key, conv.conversation_id)
            fresh.append((conv, key))
            texts.append(" ".join(norms))
        if not self.near:
            self._log_exact(exact)
            self.stats.kept += len(fresh)
            yield from (c for c, _ in fresh)
            return
        sigs = self.signatures(texts, normalised=True)
        judged = [i for i, sig in enumerate(sigs) if sig is not None]
        band_keys: list[np.ndarray | None] = [None] * len(sigs)  # for the whole batch in one numpy pass
        if judged:
            for i, k in zip(judged, self.index.band_keys(np.stack([sigs[i] for i in judged])), strict=True):
                band_keys[i] = k
        for (conv, key), sig, keys in zip(fresh, sigs, band_keys, strict=True):
            match = None if sig is None else self._near_match(conv.conversation_id, sig, keys)
            if match is not None:
                self.stats.near += 1
                self._kept_ids.redirect(key, match[0])
                self._drop(
                    DropRecord(conv.conversation_id, "near", match[0], round(match[1], 3), f"{key:016x}")
                )
                continue
            self.stats.kept += 1
            yield conv
        self._log_exact(exact)

    def _log_exact(self, exact: list[tuple[str, int]]) -> None:
        for cid, key in exact:
            self._drop(DropRecord(cid, "exact", self._kept_ids.get(key), 1.0, f"{key:016x}"))
