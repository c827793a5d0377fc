"""The optional redaction accelerator (extra `[fast]`, Hyperscan): same output as the pure-Python path.

The tests that need Hyperscan skip when it is not installed (the package alone, `pip install ".[test]"`);
CI runs this package a second time with `[test,fast]` (tools/packaging/test-alone.sh), where they run.
"""

from __future__ import annotations

import random
import sys

import pytest

from sharelm.redaction import accel


def _need_accel() -> None:
    """Skip where the accelerator cannot run: Hyperscan missing, or turned off by SHARELM_NO_ACCEL."""
    pytest.importorskip("hyperscan")
    if not accel.available():
        pytest.skip("the accelerator is turned off (SHARELM_NO_ACCEL)")


def _pure_and_fast():
    _need_accel()
    from sharelm.redact import Redactor

    return Redactor(accelerate=False), Redactor(accelerate=True)


def _odd_texts(seed: int, n: int) -> list[str]:
    """Random texts over what the gates and the name rule look at: digits, capitals, triggers, separators,
    characters whose case folding differs between engines (İ ı K ſ ß), a lone surrogate."""
    rng = random.Random(seed)
    pieces = [
        "0", "12", "4111 1111 1111 1111", "A", "K", "Li", "Anna", "Smith", "my name is ", "Hi ", "Dear ",
        "Cheers,\n", "Dr. ", "cc: ", "@", "@anna_88", " ", "\n", ",", ".", ":", "=", "-", "/", "password",
        "pass\u0130", "\u0130", "\u0131", "\u212a", "\u017f", "\u00df", "\u00e9", "\u0141", "\u2019",
        "ad\u0131m ", "Stra\u00dfe 5", "Rue ", "eyJ", "sk-", "SSN ", "born ", "\u6211\u53eb", "\ud800",
        "\u201c", "DM me ",
    ]  # fmt: skip
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(n)]


def test_lowers_to_ascii_lists_every_code_point():
    """Case-insensitive literal hints widen exactly the characters whose lower case holds ASCII letters."""
    found = {}
    for cp in range(128, sys.maxunicode + 1):
        c = chr(cp)
        for x in c.lower():
            if x.isascii() and x.isalpha():
                found[x] = c
    assert found == accel._LOWERS_TO_ASCII


def test_hs_pattern_translates_python_syntax():
    assert accel.hs_pattern(r"(?P<a>x)\u00e9[\u00c0-\u00de]\\u") == r"(?:x)\x{e9}[\x{c0}-\x{de}]\\u"
    assert accel.hs_pattern("ad\u0131m", unicode_caseless=True) == r"ad[\x{131}Ii]m"
    with pytest.raises(ValueError, match="inside a range"):
        accel.hs_pattern("[\u0131-\u0133]", unicode_caseless=True)


def test_turned_off_or_missing_means_the_pure_path(monkeypatch):
    from sharelm.redact import Redactor

    monkeypatch.setenv("SHARELM_NO_ACCEL", "1")
    assert not accel.available() and Redactor().gate() is None
    assert Redactor().redact("mail bob@example.com") == ("mail [REDACTED_EMAIL]", {"email": 1})
    monkeypatch.delenv("SHARELM_NO_ACCEL")
    monkeypatch.setattr(accel, "hyperscan", None)
    assert not accel.available()
    with pytest.raises(RuntimeError, match=r"sharelm-collection\[fast\]"):
        Redactor(accelerate=True)


def test_gate_keeps_every_rule_on_its_example():
    pure, fast = _pure_and_fast()
    gate = fast.gate()
    for i, rule in enumerate(fast.rules):
        assert rule.example and i in gate.candidates(rule.example), rule.type
        assert fast.redact(rule.example) == pure.redact(rule.example)
    assert gate.candidates("Thanks, that helps a lot.") == set()
    assert gate.candidates("bad \ud800 surrogate") is None


def test_gate_scans_from_many_threads_at_once():
    """The collector redacts in a thread pool: each thread scans with its own Hyperscan scratch."""
    from concurrent.futures import ThreadPoolExecutor

    pure, fast = _pure_and_fast()
    texts = _odd_texts(21, 400) + ["mail bob@example.com", "Hi Anna, call +44 20 7946 0958"] * 50
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(fast.redact, texts)) == [pure.redact(t) for t in texts]


def test_same_output_on_the_labelled_set_and_odd_texts():
    from sharelm_bench.labelled import labelled_set

    pure, fast = _pure_and_fast()
    texts = [e.text for e in labelled_set(per_kind=40, seed=3)]  # every type and look-alike kind
    texts += _odd_texts(11, 3000)
    changed = 0
    for text in texts:
        expected = pure.redact(text)
        assert fast.redact(text) == expected, text
        changed += bool(expected[1])
    assert changed > 500  # the comparison covered redacted texts, not only clean ones


def test_same_output_on_conversations_and_cut_messages():
    from sharelm_bench.generate import generate
    from sharelm_bench.labelled import labelled_set

    pure, fast = _pure_and_fast()
    for conv in generate(1500, seed=4, pii_rate=0.3):  # the bench's conversations, more PII in them
        msgs = [m.content for m in conv.conversation]
        assert fast.redact_many(msgs) == pure.redact_many(msgs), msgs
    texts = [e.text for e in labelled_set(per_kind=4, seed=13)] + _odd_texts(12, 300)
    for a, b in zip(texts, texts[1:] + texts[:1], strict=True):
        for cut in {0, len(a) // 3, len(a) // 2, len(a)}:
            msgs = [a[:cut], a[cut:], b]
            assert fast.redact_many(msgs) == pure.redact_many(msgs), msgs


def test_build_writes_the_same_collection_and_drops(tmp_path, monkeypatch):
    """The whole build (validate, redact, exact and near dedup) with and without the accelerator."""
    _need_accel()
    pytest.importorskip("datasketch")
    from sharelm_bench.generate import generate

    from sharelm import redact
    from sharelm.io import write_jsonl
    from sharelm.pipeline import BuildOptions, build

    data = tmp_path / "in.jsonl"
    write_jsonl(generate(3000, seed=9, pii_rate=0.2), data)
    outputs = {}
    for mode in ("fast", "pure"):
        if mode == "pure":
            monkeypatch.setenv("SHARELM_NO_ACCEL", "1")
        redact._default_redactor.cache_clear()
        assert (redact._default_redactor().gate() is not None) == (mode == "fast")
        out, drops = tmp_path / f"{mode}.jsonl", tmp_path / f"{mode}-drops.jsonl"
        report = build([data], out, BuildOptions(language=False), drops_path=drops)
        outputs[mode] = (out.read_bytes(), drops.read_bytes(), report.redactions, report.dedup)
    redact._default_redactor.cache_clear()
    assert outputs["fast"] == outputs["pure"]
    assert outputs["pure"][2] and outputs["pure"][3]["near"] and outputs["pure"][3]["exact"]


def _weak_trigger_texts(seed: int, n: int) -> list[str]:
    """Weak triggers (greetings, sign-offs, "I am") before every kind of first token `_accepted` weighs:
    lexicon names (plain, hyphenated, with an apostrophe), common words, unknown words, initials, followed
    by a surname, a clause end, " and ", a line break or nothing."""
    rng = random.Random(seed)
    triggers = [
        "Hi ",
        "Hi, ",
        "hello ",
        "Dear ",
        "Thanks,\n",
        "Cheers, ",
        "Best regards,\n",
        "I am ",
        "I'm ",
        "this is ",
        "cc ",
        "\n\nHey ",
        "Kind regards, ",
    ]
    firsts = [
        "Anna",
        "Will",
        "May",
        "Rose",
        "How",
        "Fine",
        "Zorblax",
        "Qx",
        "O'Hara",
        "Al-Hassan",
        "Jean-Luc",
        "St-Onge",
        "J.",
        "Van",
        "Ms",
        "Akiko",
        "Nikolay",
        "Kitty",
        "NASA",
        "Grant",
    ]
    tails = ["", ",", "!", ".", "\n", " and Bo", " from Oslo", " here", " Smith", " Garcia", " de Vries",
             " is here", " you", "'s car", "(x)", ".parse", " Ng"]  # fmt: skip
    starts = ["", "ok. ", "Yes, "]

    def line() -> str:
        return rng.choice(starts) + rng.choice(triggers) + rng.choice(firsts) + rng.choice(tails)

    return ["".join(line() for _ in range(rng.randint(1, 3))) for _ in range(n)]


def test_name_gate_is_a_necessary_condition_after_weak_triggers():
    """Every text the pure name finder finds a name in passes the name gate, and redacts the same."""
    from sharelm.redaction import names

    pure, fast = _pure_and_fast()
    gate = fast.gate()
    name_rule = next(iter(gate.name_rules))
    texts = _weak_trigger_texts(5, 4000)
    found = 0
    for text in texts:
        if names.find_names(text):
            found += 1
            assert name_rule in gate.candidates(text), text
        assert fast.redact(text) == pure.redact(text), text
    assert found > 1000
