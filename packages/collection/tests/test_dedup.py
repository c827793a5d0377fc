import random

import numpy as np
import pytest

from sharelm import Conversation
from sharelm.dedup import Deduplicator, batch_shingle_hashes, content_key, shingle_hashes

WORDS = [f"word{i}" for i in range(2000)]


def conv(cid: str, *texts: str) -> Conversation:
    roles = ["user", "assistant"]
    return Conversation.model_validate(
        {
            "conversation_id": cid,
            "conversation": [{"role": roles[i % 2], "content": t} for i, t in enumerate(texts)],
        }
    )


def text(rng: random.Random, n: int = 120) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_exact_duplicates_ignore_case_whitespace_and_ids():
    a = conv("a", "Hello   World", "Hi there")
    b = conv("b", "hello world ", "HI THERE")
    c = conv("c", "hello world", "hi there!")
    assert content_key(a) == content_key(b) != content_key(c)
    d = Deduplicator(near=False)
    assert [x.conversation_id for x in d.filter([a, b, c])] == ["a", "c"]
    (drop,) = d.pop_drops()
    assert (
        drop.conversation_id == "b"
        and drop.reason == "exact"
        and drop.content_hash == f"{content_key(a):016x}"
    )


def test_roles_matter_for_exact_duplicates():
    a = conv("a", "same text")
    b = Conversation.model_validate({"conversation": [{"role": "assistant", "content": "same text"}]})
    assert content_key(a) != content_key(b)


def test_near_duplicates_are_dropped_with_the_kept_id_and_similarity():
    rng = random.Random(0)
    originals = [conv(f"o{i}", text(rng), text(rng)) for i in range(200)]
    edited = []
    for i, o in enumerate(originals[:50]):
        words = o.conversation[1].content.split()
        words[10] = "EDITED"
        edited.append(conv(f"e{i}", o.conversation[0].content, " ".join(words)))
    d = Deduplicator(threshold=0.8)
    kept = [c.conversation_id for c in d.filter(originals + edited)]
    assert kept[:200] == [c.conversation_id for c in originals]  # no false positives among unrelated texts
    assert d.stats.near >= 45  # LSH may miss a few borderline pairs; most must be caught
    drops = d.pop_drops()
    assert all(r.reason == "near" and r.duplicate_of == "o" + r.conversation_id[1:] for r in drops)
    assert all(0.8 <= r.similarity <= 1.0 for r in drops)
    assert d.stats.seen == 250 and d.stats.kept + d.stats.near == 250


def test_short_conversations_are_not_judged_near_duplicates():
    d = Deduplicator()
    kept = list(d.filter([conv("a", "hi"), conv("b", "hi you")]))
    assert len(kept) == 2


def test_signature_estimates_jaccard():
    rng = random.Random(1)
    base = text(rng, 300).split()
    other = base[:]
    other[100:160] = [rng.choice(WORDS) for _ in range(60)]
    a, b = set(shingle_hashes(" ".join(base))), set(shingle_hashes(" ".join(other)))
    true_j = len(a & b) / len(a | b)
    sa, sb = Deduplicator(num_perm=256).signatures([" ".join(base), " ".join(other)])
    assert abs(float(np.mean(sa == sb)) - true_j) < 0.1


def test_batch_shingles_equal_single():
    texts = [
        "alpha beta gamma delta",
        "",
        "中文没有空格的句子也应该可以被切分成片段来比较相似度",
        "a b",
        "one two three four five",
    ]
    for batch, single in zip(batch_shingle_hashes(texts), map(shingle_hashes, texts), strict=True):
        assert np.array_equal(np.unique(batch), single)


def test_signatures_are_datasketch_minhashes():
    """Our vectorised signatures equal datasketch's own MinHash over the same shingle hashes."""
    from datasketch import MinHash

    t = text(random.Random(2))
    hashes = shingle_hashes(t)
    d = Deduplicator()
    ref = MinHash(num_perm=d.num_perm, seed=d.seed, scheme="affine32", hashfunc=int)
    ref.update_batch([int(h) for h in hashes])
    (ours,) = d.signatures([t])
    assert np.array_equal(ours, ref.hashvalues)


@pytest.mark.parametrize("window", [4, 10])
def test_window_bounds_the_near_dup_index(window):
    rng = random.Random(3)
    d = Deduplicator(window=window)
    list(d.filter([conv(str(i), text(rng)) for i in range(30)]))
    assert len(d.index) == window  # the ring buffer is full and never grows past it


def test_hashset64_matches_a_python_set():
    from sharelm.dedup import HashSet64

    rng = random.Random(4)
    ours, ref = HashSet64(shard_capacity=2), set()
    for _ in range(5000):
        key = rng.choice([0, 1, rng.getrandbits(64), rng.getrandbits(8), rng.getrandbits(8) << 56])
        assert ours.add(key) == ((key or 1) not in ref)
        ref.add(key or 1)
    assert len(ours) == len(ref) and all(k in ours for k in ref) and 12345678901 not in ours


def test_normalise_shortcut_equals_split_and_join():
    """normalise() skips the split/join for single-spaced text: the same result for every kind of space."""
    import random
    import sys
    import unicodedata

    from sharelm.dedup import normalise

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    alphabet = spaces + list("aB\u00df\u0130\u00e9\uff21\u200b\ufeff\x00.")
    rng = random.Random(3)
    for _ in range(50_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        expected = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
        assert normalise(text) == expected, repr(text)
