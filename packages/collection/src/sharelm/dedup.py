"""Deduplication: exact (normalised content hash) and near-duplicate (MinHash LSH via `datasketch`).

Exact keys are 64-bit hashes kept for the whole run (a few dozen bytes per conversation). The near-dup
index is bounded: two generations of `MinHashLSH`, each holding at most `window // 2` conversations, so a
conversation is compared with at least the previous `window // 2` and at most `window` kept ones; memory
stops growing once the window is full. Every drop is reported with its reason.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from sharelm.schema import Conversation

_U32 = np.uint32


def normalise(text: str) -> str:
    """Case, Unicode width and whitespace differences do not make a conversation new."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


# Random odd weights per byte position in a token: a token's hash is sum(weight[pos] * (byte + 1)) mod 2^32,
# computed for all tokens at once with numpy (a Python loop over words costs more than everything else).
_POS_WEIGHTS = (np.random.RandomState(20240601).randint(0, 1 << 31, 64, dtype=np.uint32) * 2 + 1).astype(_U32)


def token_hashes(norm: str) -> np.ndarray:
    """32-bit hashes of the space-separated tokens of a normalised text (or texts joined by newlines)."""
    b = np.frombuffer(norm.encode("utf-8", "surrogatepass"), np.uint8)
    if len(b) == 0:
        return np.empty(0, _U32)
    word = (b != 32) & (b != 10)  # spaces separate tokens, newlines separate texts (batch_shingle_hashes)
    start = word & np.concatenate(([True], ~word[:-1]))
    idx = np.flatnonzero(word)
    tok = np.cumsum(start, dtype=np.int32)[idx] - 1
    first = np.flatnonzero(start)
    pos = np.minimum(idx - first[tok], len(_POS_WEIGHTS) - 1)
    with np.errstate(over="ignore"):
        vals = (b[idx].astype(_U32) + _U32(1)) * _POS_WEIGHTS[pos]
        return np.add.reduceat(vals, np.searchsorted(idx, first)).astype(_U32)


def content_key(conv: Conversation) -> int:
    """64-bit hash of the roles and normalised contents (ids, metadata and timestamps are ignored)."""
    h = hashlib.blake2b(digest_size=8)
    for m in conv.conversation:
        h.update(m.role.encode())
        h.update(b"\x1f")
        h.update(normalise(m.content).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
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


def batch_shingle_hashes(texts: list[str], k: int = 3) -> list[np.ndarray]:
    """`shingle_hashes` for many texts at once: one pass of numpy over the joined batch."""
    norms = [normalise(t) for t in texts]
    hv = token_hashes("\n".join(norms))  # normalise() removed every newline: "\n" only separates texts
    # Token i of the joined text belongs to text doc[i]: count the separators before it.
    n_tokens = [len(t.split(" ")) if t else 0 for t in norms]
    doc = np.repeat(np.arange(len(texts)), n_tokens)
    result: list[np.ndarray] = [np.empty(0, _U32)] * len(texts)
    if len(hv) >= k:
        grams = _kgrams(hv, k)
        same = doc[: len(doc) - k + 1] == doc[k - 1 :]
        keyed = np.unique((doc[: len(grams)][same].astype(np.uint64) << np.uint64(32)) | grams[same])
        gdoc = (keyed >> np.uint64(32)).astype(np.int64)
        bounds = np.searchsorted(gdoc, np.arange(len(texts) + 1))
        ghash = (keyed & np.uint64(0xFFFFFFFF)).astype(_U32)
        result = [ghash[bounds[i] : bounds[i + 1]] for i in range(len(texts))]
    for i, (norm, n) in enumerate(zip(norms, n_tokens, strict=True)):
        if n < k + 2 and len(norm) > 20:
            result[i] = _char_grams(norm)
        elif n < k:
            result[i] = np.unique(token_hashes(norm))
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
    duplicate_of: str | None  # near: the kept conversation it matched
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


class Deduplicator:
    """`filter(convs)` yields the first occurrence of each conversation and records the drops."""

    def __init__(
        self,
        *,
        near: bool = True,
        threshold: float = 0.8,
        num_perm: int = 64,
        window: int = 200_000,
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
        self._exact: set[int] = set()
        if near:
            from datasketch import MinHash

            # datasketch's own affine32 permutation parameters, so the signatures are datasketch MinHashes.
            self._perm = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
            self._a, self._b = self._perm
            self._generations = [self._new_index()]
            self._signatures: list[dict[str, np.ndarray]] = [{}]

    def _new_index(self):
        from datasketch import MinHashLSH

        return MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)

    def signatures(self, texts: list[str]) -> list[np.ndarray | None]:
        """MinHash signatures for a batch (None where a text is too short to judge), vectorised in blocks
        small enough for the CPU cache."""
        # 64 texts per numpy pass: bigger batches fall out of the CPU cache and run slower per text.
        hashes = [h for s in range(0, len(texts), 64) for h in batch_shingle_hashes(texts[s : s + 64])]
        result: list[np.ndarray | None] = [None] * len(texts)
        ok = [i for i, h in enumerate(hashes) if len(h) >= self.min_tokens - 2]
        for s in range(0, len(ok), 16):
            block = ok[s : s + 16]
            flat = np.concatenate([hashes[i] for i in block])
            starts = np.cumsum([0] + [len(hashes[i]) for i in block[:-1]])
            with np.errstate(over="ignore"):
                phv = _fmix32(flat)[:, None] * self._a[None, :] + self._b[None, :]
            for i, row in zip(block, np.minimum.reduceat(phv, starts, axis=0), strict=True):
                result[i] = row
        return result

    def _near_match(self, key: str, sig: np.ndarray) -> tuple[str, float] | None:
        from datasketch import MinHash

        mh = MinHash(
            num_perm=self.num_perm, hashvalues=sig, permutations=self._perm, scheme="affine32"
        )  # passing the permutations skips datasketch regenerating them for every MinHash
        best: tuple[str, float] | None = None
        for index, sigs in zip(self._generations, self._signatures, strict=True):
            for cand in index.query(mh):
                sim = float(np.count_nonzero(sigs[cand] == sig)) / self.num_perm
                if sim >= self.threshold and (best is None or sim > best[1]):
                    best = (cand, sim)
        if best is None:
            self._insert(key, mh, sig)
        return best

    def _insert(self, key: str, mh, sig: np.ndarray) -> None:
        if len(self._signatures[-1]) >= max(1, self.window // 2):
            self._generations = [self._generations[-1], self._new_index()]
            self._signatures = [self._signatures[-1], {}]
        self._generations[-1].insert(key, mh, check_duplication=False)
        self._signatures[-1][key] = sig

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
        for conv in batch:
            self.stats.seen += 1
            key = content_key(conv)
            if key in self._exact:
                self.stats.exact += 1
                self._drop(DropRecord(conv.conversation_id, "exact", None, 1.0, f"{key:016x}"))
                continue
            self._exact.add(key)
            fresh.append((conv, key))
        if not self.near:
            self.stats.kept += len(fresh)
            yield from (c for c, _ in fresh)
            return
        sigs = self.signatures(["\n".join(m.content for m in c.conversation) for c, _ in fresh])
        for (conv, key), sig in zip(fresh, sigs, strict=True):
            match = None if sig is None else self._near_match(conv.conversation_id, sig)
            if match is not None:
                self.stats.near += 1
                self._drop(
                    DropRecord(conv.conversation_id, "near", match[0], round(match[1], 3), f"{key:016x}")
                )
                continue
            self.stats.kept += 1
            yield conv
