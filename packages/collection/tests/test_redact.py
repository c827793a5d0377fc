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


def test_shape_gates_are_implied_by_their_gates_and_exact_where_claimed():
    """A shape pattern may only rule a gate out where the gate cannot match; an exact one also decides
    that it does match, so it must agree with the gate both ways."""
    from sharelm.redact import SHAPE_GATES_SPEC, TOKEN_GATES, _Shape, default_rules

    gates = {r.gate.pattern: r.gate for r in default_rules() if r.gate is not None}
    assert set(SHAPE_GATES_SPEC) | set(TOKEN_GATES) <= set(gates)
    texts = _shape_texts(11, 20_000) + ["SK" + "a1" * 16, "12 34 56", ".1.", "5 (555) 123-4567", "aa:0f:"]
    texts += ["1:AA", "x.ab_-9Z.y", "00:1A:2b:33:44:55", "fe80::1", "-a0-", ".abcd.", "é12 3456", "1\u00a02"]
    texts += ["sk-" + "Ab9_" * 5, "AccountKey=" + "ab+/" * 4, "x" * 14, "y" * 15, "Ab_-+/" * 3]
    for pattern in set(SHAPE_GATES_SPEC) | set(TOKEN_GATES):
        exact = pattern in TOKEN_GATES or SHAPE_GATES_SPEC[pattern][1]
        matched = 0
        for t in texts:
            truth = gates[pattern].search(t) is not None
            decided = _Shape(t).decide(pattern)
            matched += truth
            if truth:
                assert decided is not False, (pattern, t)
            if exact:
                assert decided is truth, (pattern, t)
        assert matched, pattern  # cases to fail on


def test_street_prefilter_passes_wherever_its_rule_matches():
    from sharelm_bench.labelled import labelled_set

    from sharelm.redact import default_rules
    from sharelm.redaction.prefilters import STREET_SUFFIXES, STREET_WORDS

    rule = next(r for r in default_rules() if r.prefilter is not None)
    # In step with the rule's literal hints (the plugin's prefilter): edit both or neither.
    assert {q.strip() for q in rule.requires} == set(STREET_SUFFIXES) | set(STREET_WORDS) | {"ul.", "al."}
    texts = [e.text for e in labelled_set(per_kind=60, seed=9)] + [rule.example]
    texts += ["Rue de la Paix 12", "ul. Długa 5", "al. Jerozolimskie 44", "Storgatan 3", "Via Roma 1"]
    matched = [t for t in texts if rule.regex.search(t)]
    assert len(matched) > 20
    for t in matched:
        assert rule.prefilter(t), t
    assert not rule.prefilter("step 12 of the Ring road")  # and it does rule texts out


def _lookaround_bodies(pattern: str) -> list[str]:
    """The source of every lookahead and lookbehind in a pattern (brackets and escapes respected)."""
    out, i = [], 0
    while (m := re.compile(r"\(\?<?[!=]").search(pattern, i)) is not None:
        depth, k, in_class = 0, m.start(), False
        while k < len(pattern):
            c = pattern[k]
            if c == "\\":
                k += 2
                continue
            if in_class:
                in_class = c != "]"
            elif c == "[":
                in_class = True
            elif c in "()":
                depth += 1 if c == "(" else -1
                if depth == 0:
                    break
            k += 1
        out.append(pattern[m.start() : k + 1])
        i = m.end()
    return out


def test_no_rule_can_tell_the_join_from_a_texts_edge():
    """`redact_many` searches the messages joined by a blank line and skips them when nothing matches:
    sound only if no lookaround or anchor can see the difference between the join and a text's edge
    (a line break could only be matched by \\s, \\W, \\D, a negated class or \\n; anchors see edges)."""
    from sharelm.redact import JOIN, default_rules

    assert JOIN == "\n\n"
    sees_newline = re.compile(r"\\[sWDn]|\[\^|\[\\s\\S\]")
    anchors = re.compile(r"(?<!\\)\$|\\[AZ]|(?<![\\\[(])\^")
    patterns = [r.regex.pattern for r in default_rules() if r.regex is not None]
    assert len(patterns) > 30
    assert _lookaround_bodies(r"a(?<![\w.])b(?![x)]|\.\d)") == [r"(?<![\w.])", r"(?![x)]|\.\d)"]
    for p in patterns:
        assert not anchors.search(p), p
        for body in _lookaround_bodies(p):
            assert not sees_newline.search(body), (p, body)


def test_redact_many_equals_each_message_alone_at_every_boundary():
    """PII, names and their triggers cut across message edges: the joined fast path must agree with
    redacting each message by itself."""
    from sharelm_bench.labelled import labelled_set

    from sharelm.redact import Redactor

    r = Redactor()
    texts = [e.text for e in labelled_set(per_kind=4, seed=13)]
    texts += ["Thanks,\nAnna", "Kind regards,", "Akiko", " Ann said hi.", "Dr.", "Li is here", "my name is"]
    changed = 0
    for a, b in zip(texts, texts[1:] + texts[:1], strict=True):
        for cut in {0, len(a) // 3, len(a) // 2, len(a) - 3, len(a)}:
            msgs = [a[:cut], a[cut:], b]
            expected = [r.redact(m) for m in msgs]
            assert r.redact_many(msgs) == expected, msgs
            changed += any(c for _, c in expected)
    assert changed > 100
