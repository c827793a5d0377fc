import json
import re
import shutil
import subprocess

import pytest

from sharelm import Conversation
from sharelm.redact import RULES_PATH, iban_ok, load_rules, luhn_ok, redact_conversation, redact_text


@pytest.mark.parametrize(
    ("text", "kind", "placeholder"),
    [
        ("write to jane.doe+news@mail.example.co.uk today", "email", "[REDACTED_EMAIL]"),
        ("call +44 20 7946 0958 now", "phone", "[REDACTED_PHONE]"),
        ("call (415) 555-2671 now", "phone", "[REDACTED_PHONE]"),
        ("call +33 1 42 68 53 00 now", "phone", "[REDACTED_PHONE]"),
        ("call +14155552671 now", "phone", "[REDACTED_PHONE]"),
        ("server 192.168.10.254 is down", "ipv4", "[REDACTED_IPV4]"),
        ("host 2001:db8:85a3::8a2e:370:7334 up", "ipv6", "[REDACTED_IPV6]"),
        ("nic 00:1A:2B:3C:4D:5E here", "mac_address", "[REDACTED_MAC_ADDRESS]"),
        ("card 4111 1111 1111 1111 ok", "credit_card", "[REDACTED_CREDIT_CARD]"),
        ("pay to DE89 3704 0044 0532 0130 00 please", "iban", "[REDACTED_IBAN]"),
        ("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t please", "api_key", "[REDACTED_API_KEY]"),
        ("AWS AKIAIOSFODNN7EXAMPLE leaked", "api_key", "[REDACTED_API_KEY]"),
        ("OPENAI_API_KEY=a1b2c3d4e5f6", "api_key", "[REDACTED_API_KEY]"),
        ("Authorization: Bearer eyJhbGciOi1234567890abc", "bearer_token", "[REDACTED_TOKEN]"),
    ],
)
def test_positive_is_replaced_by_typed_placeholder(text, kind, placeholder):
    out, counts = redact_text(text)
    assert counts == {kind: 1}, (out, counts)
    assert placeholder in out


@pytest.mark.parametrize(
    "text",
    [
        "upgrade to version 3.11.4 or v1.2.3.4",
        "order ORD-2024-558812 shipped",
        "logged at 2024-01-15 10:30:00 UTC",
        "ISBN 978-3-16-148410-0",
        "the card 4111 1111 1111 1112 fails Luhn",
        "not an IBAN: DE89 3704 0044 0532 0130 01",
        "use std::vector and a::b in C++",
        "the population is 1 234 567 people",
        "set api_key = os.environ['OPENAI_API_KEY']",
        "token classification models",
        "use Bearer authentication",
        "follow @openai on social media",
    ],
)
def test_look_alikes_are_left_alone(text):
    assert redact_text(text) == (text, {})


def test_url_keeps_path_drops_query_and_fragment():
    out, counts = redact_text("see https://example.com/a/b?user=joe&sid=42#top.")
    assert out == "see https://example.com/a/b[REDACTED_URL_QUERY]."
    assert counts == {"url_query": 1}


def test_bearer_keeps_scheme_word():
    out, _ = redact_text("curl -H 'Authorization: Bearer abc123def456ghi789'")
    assert out == "curl -H 'Authorization: Bearer [REDACTED_TOKEN]'"


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


SAMPLES = [
    "jane.doe@mail.example.co.uk +44 20 7946 0958 (415) 555-2671 192.168.10.254 2001:db8::8a2e:370:7334",
    "00:1A:2B:3C:4D:5E 4111 1111 1111 1111 DE89 3704 0044 0532 0130 00 sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t",
    "api_key = 'a1b2c3d4e5f6' Authorization: Bearer eyJhbGciOi1234567890abc https://x.org/a?b=1#c.",
    "version 3.11.4, v1.2.3.4, 2024-01-15 10:30:00, ORD-2024-558812, std::vector, 1 234 567 GB82 WEST 12",
]


def _shared(spec: dict) -> list[dict]:
    """The rules both engines run (python-only detector rules are code, not patterns)."""
    return [r for r in spec["rules"] if "javascript" in r.get("engines", ["python", "javascript"])]


def test_rules_file_is_portable_to_javascript():
    spec = json.loads(RULES_PATH.read_text())
    for rule in spec["rules"]:
        if "pattern" not in rule:  # a detector rule: code in sharelm, which the plugin must skip
            assert rule["engines"] == ["python"] and rule["detector"], rule["type"]
            continue
        assert "(?P" not in rule["pattern"] and "(?i" not in rule["pattern"], rule["type"]
        assert set(rule.get("flags", "")) <= {"i"}, rule["type"]
        assert re.fullmatch(r"\[REDACTED_[A-Z0-9_]+\]", rule["placeholder"])
        if rule.get("check"):
            assert rule["check"] in spec["checks"]
    assert len(load_rules()) == len(spec["rules"])  # Python compiles every pattern (fixed-width lookbehinds)


@pytest.mark.skipif(
    shutil.which("node") is None, reason="needs Node.js (installed with the plugin's toolchain)"
)
def test_javascript_regexp_matches_the_same_spans_as_python():
    spec = json.loads(RULES_PATH.read_text())
    samples = SAMPLES + [r["example"] for r in _shared(spec)]
    script = """
const spec = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
const samples = JSON.parse(process.argv[2]);
const shared = spec.rules.filter(r => (r.engines || ['python', 'javascript']).includes('javascript'));
console.log(JSON.stringify(shared.map(r => samples.map(t =>
  [...t.matchAll(new RegExp(r.pattern, 'g' + (r.flags || '')))]
    .map(m => [m.index, m.index + m[0].length])))));
"""
    out = subprocess.run(
        ["node", "-e", script, str(RULES_PATH), json.dumps(samples)],
        capture_output=True,
        text=True,
        check=True,
    )
    js = json.loads(out.stdout)
    py_rules = [r for r in load_rules() if r.regex is not None]
    for rule, py_rule, js_spans in zip(_shared(spec), py_rules, js, strict=True):
        py_spans = [[list(m.span()) for m in py_rule.regex.finditer(t)] for t in samples]
        assert py_spans == js_spans, rule["type"]
    assert all(any(spans) for spans in js)  # every shared rule matched something here


def test_redact_conversation_sets_flag_and_summary():
    conv = Conversation.model_validate(
        {
            "conversation": [
                {"role": "user", "content": "I am bob@example.com, call 415-555-2671"},
                {"role": "assistant", "content": "Noted."},
                {"role": "user", "content": "also alice@example.org"},
            ],
            "conversation_metadata": {"title": "mail bob@example.com"},
        }
    )
    out, counts = redact_conversation(conv)
    assert counts == {"email": 3, "phone": 1}
    assert out.conversation_metadata.redacted == "True"
    assert out.conversation_metadata.extra["redactions"] == {"email": 3, "phone": 1}
    assert "bob@" not in out.model_dump_json()
    assert out.conversation[1] == conv.conversation[1]
    assert conv.conversation_metadata.redacted is None  # the input is not mutated


def test_clean_conversation_is_untouched():
    conv = Conversation.model_validate({"conversation": [{"role": "user", "content": "hello there"}]})
    out, counts = redact_conversation(conv)
    assert counts == {} and out == conv and out.conversation_metadata.redacted is None


def test_prefilters_never_change_the_result():
    """requires / gate / min_digits only skip work: the bare regexes must redact the same."""
    import dataclasses

    from sharelm_bench.generate import generate
    from sharelm_bench.labelled import labelled_set

    from sharelm.redact import Redactor, default_rules

    bare = Redactor([dataclasses.replace(r, requires=(), gate=None, min_digits=0) for r in default_rules()])
    full = Redactor()
    texts = [e.text for e in labelled_set(per_kind=10, seed=5)]  # every type, old and new, and look-alikes
    texts += ["\n".join(m.content for m in c.conversation) for c in generate(100, seed=5, pii_rate=0.5)]
    for text in texts:
        assert full.redact(text) == bare.redact(text), text
    for conv in generate(100, seed=6, pii_rate=0.5):  # the conversation-level prefilter too
        msgs = [m.content for m in conv.conversation]
        assert full.redact_many(msgs) == [bare.redact(m) for m in msgs]


def _shape_texts(seed: int, n: int) -> list[str]:
    """Short random texts over the characters the gates look at (digits, capitals, separators), plus some
    non-ASCII: dense enough that every gate matches many of them."""
    import random

    rng = random.Random(seed)
    alphabet = "0123456789AKSXZabk ./-:=,\"'\n\u00e9\u0141\u00b2"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def test_shape_hints_are_implied_by_their_gates():
    """A shape hint may only skip a gate's regex where that regex cannot match."""
    from sharelm.redact import SHAPE_HINTS, _Shape, default_rules

    gates = {r.gate.pattern: r.gate for r in default_rules() if r.gate is not None}
    assert set(SHAPE_HINTS) <= set(gates)  # a hint for a gate no rule has would be dead code
    texts = _shape_texts(7, 20_000) + ["SK" + "a1" * 16, "12 34 56", "AB12", "ABCDEF12G", ".1.", ", NY 10001"]
    texts += ["api key: x", 'TOKEN="a"', "secret\n= 1", "my key is", "token - x"]
    for pattern in SHAPE_HINTS:
        matched = [t for t in texts if gates[pattern].search(t)]
        assert matched, pattern  # the check below must have cases to fail on
        for t in matched:
            assert _Shape(t).may_match(pattern), (pattern, t)


def test_requires_plan_finds_every_literal():
    from sharelm.redact import _requires_hit, default_rules, requires_plan

    for rule in default_rules():
        plan = requires_plan(rule.requires)
        for q in rule.requires:
            assert _requires_hit(plan, f"xx {q} yy"), (rule.type, q)
        if rule.requires:
            assert not _requires_hit(plan, "")
