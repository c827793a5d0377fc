"""PII redaction with typed placeholders, driven by one JSON rules file shared with the browser plugin.

`redact_text("mail me at a@b.org")` -> `("mail me at [REDACTED_EMAIL]", {"email": 1})`.
The rules (regexes in the common subset of Python `re` and JavaScript RegExp, plus named post-checks such
as Luhn and IBAN mod-97) live in `data/redaction_rules.json`; `RULES_PATH` points at it. Rules that need
code (person names: a lexicon and context, `sharelm.redaction.names`) are listed there too, as python-only
"detector" rules. `RULES` / `default_rules()` enumerate them all; `placeholders()` maps type -> placeholder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sharelm.redaction import accel
from sharelm.redaction.checks import CHECKS, iban_ok, luhn_ok, phone_ok
from sharelm.redaction.names import find_names
from sharelm.redaction.prefilters import PREFILTERS
from sharelm.schema import Conversation

__all__ = [
    "CHECKS", "RULES_PATH", "Redactor", "Rule", "default_rules", "iban_ok", "load_rules", "luhn_ok",
    "phone_ok", "placeholders", "redact_conversation", "redact_text",
]

RULES_PATH = Path(__file__).parent / "data" / "redaction_rules.json"

_ASCII_DIGITS = b"0123456789"


def count_digits(text: str) -> int:
    """ASCII digits in text (bytes.translate runs in C: far cheaper than a regex scan)."""
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, _ASCII_DIGITS))


# Rules that are code rather than a regex ("detector" in the rules file): python only, the plugin skips them.
DETECTORS: dict[str, Callable[[str], list[tuple[int, int]]]] = {"names": find_names}


@dataclass(frozen=True)
class Rule:
    type: str
    placeholder: str
    regex: re.Pattern[str] | None  # None for a detector rule
    keep_prefix_group: int = 0
    check: Callable[[str], bool] | None = None
    # Literal hints: the rule cannot match unless one of them occurs (a cheap test before the regex scan).
    requires: tuple[str, ...] = ()
    # A cheaper regex that must match before the full rule runs (also an optimisation only).
    gate: re.Pattern[str] | None = None
    min_digits: int = 0
    ignore_case: bool = False
    detector: Callable[[str], list[tuple[int, int]]] | None = None
    engines: tuple[str, ...] = ("python", "javascript")
    example: str = ""  # a text this rule redacts (the rules file's own example)
    # A named Python test that must pass before the regex runs (PREFILTERS; an optimisation only).
    prefilter: Callable[[str], bool] | None = None


def _compile(spec: dict) -> Rule:
    flags = re.ASCII  # JavaScript's \d \w \b are ASCII-only; keep both engines matching the same text
    ignore_case = "i" in spec.get("flags", "")
    if ignore_case:
        flags |= re.IGNORECASE
    check = spec.get("check")
    if check is not None and check not in CHECKS:
        raise ValueError(f"redaction rule {spec['type']!r}: unknown check {check!r}")
    requires = tuple(spec.get("requires", ()))
    detector = spec.get("detector")
    if detector is not None and detector not in DETECTORS:
        raise ValueError(f"redaction rule {spec['type']!r}: unknown detector {detector!r}")
    prefilter = spec.get("prefilter")
    if prefilter is not None and prefilter not in PREFILTERS:
        raise ValueError(f"redaction rule {spec['type']!r}: unknown prefilter {prefilter!r}")
    return Rule(
        type=spec["type"],
        placeholder=spec["placeholder"],
        regex=re.compile(spec["pattern"], flags) if detector is None else None,
        keep_prefix_group=int(spec.get("keep_prefix_group", 0)),
        check=CHECKS[check] if check else None,
        requires=tuple(r.lower() for r in requires) if ignore_case else requires,
        gate=re.compile(spec["gate"], flags) if spec.get("gate") else None,
        min_digits=int(spec.get("min_digits", 0)),
        ignore_case=ignore_case,
        detector=DETECTORS[detector] if detector else None,
        engines=tuple(spec.get("engines", ("python", "javascript"))),
        example=spec.get("example", ""),
        prefilter=PREFILTERS[prefilter] if prefilter else None,
    )


def load_rules(path: str | Path = RULES_PATH) -> list[Rule]:
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    return [_compile(r) for r in spec["rules"]]


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    return tuple(load_rules())


def placeholders() -> dict[str, str]:
    """Every redaction type and its placeholder, in rule order.

    Placeholders can be longer than what they replace ("Li" -> "[REDACTED_NAME]"): a redacted text may grow,
    which matters to anyone enforcing a length cap after redaction.
    """
    return {r.type: r.placeholder for r in default_rules()}


def __getattr__(name: str) -> object:
    # RULES: the public, enumerable list of rules (type, placeholder, engines, example), loaded on first use.
    if name == "RULES":
        return default_rules()
    raise AttributeError(name)


# How rare a character is in chat text (higher: rarer), for choosing which character of a literal hint to
# look for first: a one-character `in` test is a memchr, far cheaper than a substring search.
_COMMON_LOWER = "etaoinsrhldcumfpgwybvkxjqz"  # English letter frequency, most common first


def _rarity(c: str) -> int:
    if c == " ":
        return 0
    if c in ".,":
        return 5
    i = _COMMON_LOWER.find(c)
    if i >= 0:
        return i + 1
    i = _COMMON_LOWER.find(c.lower())
    if i >= 0:
        return i + 15  # capitals: sentence starts make the common ones frequent
    if c.isdigit():
        return 14
    if c in "'-":
        return 12
    return 45  # other punctuation, symbols, non-ASCII letters


@lru_cache(maxsize=256)
def requires_plan(requires: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The literal hints grouped by their rarest character: a group's substrings are searched for only
    when that character occurs (a literal can only occur where each of its characters does)."""
    groups: dict[str, list[str]] = {}
    for q in requires:
        c = max(q, key=_rarity)
        groups.setdefault(c, []).append(q)
    return tuple((c, tuple(q for q in qs if q != c)) for c, qs in groups.items())


def _requires_hit(plan: tuple[tuple[str, tuple[str, ...]], ...], hay: str) -> bool:
    for c, literals in plan:
        if c in hay:
            if len(literals) == 0:
                return True  # the character is itself one of the literals
            for q in literals:
                if q in hay:
                    return True
    return False


def _shape_class(b: int) -> int:
    c = chr(b)
    if b >= 128 or not c.isalnum():
        return b
    return ord("0") if c.isdigit() else ord("A") if c.isupper() else ord("a")


# The text's shape: ASCII digits -> "0", capitals -> "A", small letters -> "a", every other byte as it is
# (UTF-8, so no non-ASCII character can look like an ASCII one). One bytes.translate, in C.
_SHAPE = bytes(_shape_class(b) for b in range(256))

# Gates whose match needs one of these substrings of the text's shape (and at least this many digits):
# `in` tests, each a C search, decide most texts without the gate's regex scan (which then runs only when
# one of them is there, so results cannot change). tests/test_redact.py checks each is implied by its gate.
SHAPE_HINTS: dict[str, tuple[int, tuple[bytes, ...]]] = {
    r"\d(?:[ ./-]?\d){5}": (6, (b"00", b"0 0", b"0.0", b"0/0", b"0-0")),
    r"\d{2} ?\d{2} ?\d{2}": (6, (b"000000", b"00 0000", b"0000 00", b"00 00 00")),
    r"[A-Z]{2}\d{2}": (2, (b"AA00",)),
    r"[A-Z]{6}\d{2}[A-Z]": (2, (b"AAAAAA00A",)),
    r"\d[ABD-HJLNP-UW-Z]{2}": (1, (b"0AA",)),
    r"\.\d{1,3}\.": (1, (b".0.", b".00.", b".000.")),
    r", [A-Z]{2} \d{5}": (5, (b", AA 00000",)),
    r"(?:key|secret|token)[\"']?\s*[:=]": (0, (b":", b"=")),
}


# Token shape: the characters of API keys and other long secrets ([A-Za-z0-9_+/-], ASCII) -> "t", every other
# byte -> ".". A gate asking for a run of n of them is then one substring search for n "t"s.
_TOKEN = bytes(
    ord("t") if b < 128 and (chr(b).isalnum() or chr(b) in "_+/-") else ord(".") for b in range(256)
)
TOKEN_GATES: dict[str, int] = {"[A-Za-z0-9_+/-]{15}": 15}  # gate -> run length (exactly equivalent)


class _Shape:
    """A text's digit count and shape, computed on first use."""

    __slots__ = ("decided", "digits", "raw", "shape", "text", "tokens")

    def __init__(self, text: str):
        self.text = text
        self.shape: bytes | None = None
        self.raw: bytes | None = None
        self.tokens: bytes | None = None
        self.digits = -1
        self.decided: dict[str, bool | None] = {}  # gates share patterns: decide each once

    def n_digits(self) -> int:
        if self.digits < 0:
            self._compute()
        return self.digits

    def _compute(self) -> None:
        raw = self.raw = self.text.encode("utf-8", "surrogatepass")
        self.digits = len(raw) - len(raw.translate(None, _ASCII_DIGITS))
        self.shape = raw.translate(_SHAPE)

    def may_match(self, pattern: str) -> bool:
        hint = SHAPE_HINTS.get(pattern)
        if hint is None:
            return True
        if self.digits < 0:
            self._compute()
        if self.digits < hint[0]:
            return False
        shape: bytes = self.shape  # type: ignore[assignment]
        return any(q in shape for q in hint[1])

    def decide(self, pattern: str) -> bool | None:
        """The gate's answer where its shape pattern gives it (False: it cannot match; True: an exact
        shape pattern matched), None where only the gate's own regex can tell."""
        if pattern in self.decided:
            return self.decided[pattern]
        answer = self.decided[pattern] = self._decide(pattern)
        return answer

    def _decide(self, pattern: str) -> bool | None:
        run = TOKEN_GATES.get(pattern)
        if run is not None:
            if self.tokens is None:
                if self.raw is None:
                    self._compute()
                self.tokens = self.raw.translate(_TOKEN)  # type: ignore[union-attr]
            return b"t" * run in self.tokens
        if not self.may_match(pattern):
            return False
        entry = _SHAPE_GATES.get(pattern)
        if entry is None:
            return None
        if self.shape is None:
            self._compute()
        shape: bytes = self.shape  # type: ignore[assignment]
        if not any(rx.search(shape) is not None for rx in entry[0]):
            return False
        return True if entry[1] else None


# Gates decided on the shape by a bytes pattern, which runs faster than the gate on the text (a literal
# "0" where the gate has a digit class): digits are "0", capitals "A", small letters "a", and the
# punctuation these gates name stays as it is. Exact (True): the shape pattern matches the shape exactly
# where the gate matches the text; otherwise it matches at least there (letters lose their identity, so
# hex digits cannot be told apart), and the gate then runs. tests/test_redact.py checks both claims.
SHAPE_GATES_SPEC: dict[str, tuple[tuple[bytes, ...], bool]] = {
    r"\d(?:[ ./-]?\d){5}": ((rb"0(?:[ ./-]?0){5}",), True),
    r"\d{2} ?\d{2} ?\d{2}": ((rb"00 ?00 ?00",), True),
    r"\.\d{1,3}\.": ((rb"\.0{1,3}\.",), True),
    r"\d[\d ().-]{6,}\d": ((rb"0[0 ().-]{6,}0",), True),
    # Alternatives as separate patterns: each then starts with a literal, which re scans for quickly.
    r":[0-9A-Fa-f]{2}:|-[0-9A-Fa-f]{2}-|\.[0-9A-Fa-f]{4}\.": (
        (rb":[0Aa]{2}:", rb"-[0Aa]{2}-", rb"\.[0Aa]{4}\."),
        False,
    ),
    r":[0-9A-Fa-f]{0,4}:": ((rb":[0Aa]{0,4}:",), False),
    r":AA|\.[A-Za-z0-9_-]{6}\.|SK[0-9a-fA-F]{32}": ((rb":AA", rb"\.[0Aa_-]{6}\.", rb"AA[0Aa]{32}"), False),
}
_SHAPE_GATES = {k: (tuple(re.compile(x) for x in v[0]), v[1]) for k, v in SHAPE_GATES_SPEC.items()}


def _gate(memo: dict[str, bool], gate: re.Pattern[str], text: str, shape: _Shape | None = None) -> bool:
    hit = memo.get(gate.pattern)
    if hit is None:
        decided = shape.decide(gate.pattern) if shape is not None else None
        hit = memo[gate.pattern] = decided if decided is not None else gate.search(text) is not None
    return hit


class _Prefilters:
    """A rule's prefilters on one text (`passes`), with what rules share (shape, lower case, gates) computed
    once. Only optimisations: a rule they reject cannot match the text."""

    __slots__ = ("gates", "lowered", "n_digits", "plans", "shape", "text")

    def __init__(self, text: str, plans: dict[int, tuple[tuple[str, tuple[str, ...]], ...]]):
        self.text, self.plans = text, plans
        self.shape = _Shape(text)
        self.n_digits = self.shape.n_digits()
        self.lowered: str | None = None  # on first use: most literal hints are case-sensitive
        self.gates: dict[str, bool] = {}  # rules sharing a gate pattern scan for it once

    def passes(self, r: Rule) -> bool:
        if self.n_digits < r.min_digits:
            return False
        # What the text's shape decides first: a few C searches, cheaper than a list of literals.
        if r.gate is not None and self.shape.decide(r.gate.pattern) is False:
            return False
        if r.prefilter is not None and not r.prefilter(self.text):
            return False
        if r.requires:
            if r.ignore_case and self.lowered is None:
                self.lowered = self.text.lower()
            hay = self.lowered if r.ignore_case else self.text
            if not _requires_hit(self.plans[id(r)], hay):  # type: ignore[arg-type]
                return False
        return r.gate is None or _gate(self.gates, r.gate, self.text, self.shape)


# What `redact_many` joins a conversation's messages with: to every rule, the same as a text's edge.
JOIN = "\n\n"


def _finds(rule: Rule, text: str) -> bool:
    """Whether the rule's pattern (or detector) finds anything, before any check: a necessary condition
    for the rule to redact."""
    if rule.detector is not None:
        return bool(rule.detector(text))
    return rule.regex.search(text) is not None  # type: ignore[union-attr]


class Redactor:
    """Applies the rules in order; each rule sees the previous rule's output.

    `accelerate`: use the optional Hyperscan gate (`sharelm.redaction.accel`, extra `[fast]`) to skip the
    rules that cannot match a text; None uses it when installed. Same output either way."""

    def __init__(self, rules: list[Rule] | tuple[Rule, ...] | None = None, *, accelerate: bool | None = None):
        self.rules = tuple(rules) if rules is not None else default_rules()
        self._plans = {id(r): requires_plan(r.requires) for r in self.rules if r.requires}
        self._subsets: dict[tuple[int, ...], Redactor] = {}
        if accelerate and not accel.available():
            raise RuntimeError(
                'the redaction accelerator needs Hyperscan: pip install "sharelm-collection[fast]"'
            )
        self.accelerate = accel.available() if accelerate is None else accelerate
        self._gate: accel.RuleGate | None = None  # built on first use (loaded from its cache, or compiled)

    def gate(self) -> accel.RuleGate | None:
        if self._gate is None and self.accelerate:
            self._gate = accel.gate_for(self.rules)
        return self._gate

    def active_rules(self, text: str) -> tuple[Rule, ...]:
        """The rules whose prefilters pass on `text`. Prefilters only look for substrings and digit
        counts, so a rule inactive on texts joined together is inactive on each of them."""
        ctx = _Prefilters(text, self._plans)
        passes = ctx.passes
        return tuple(r for r in self.rules if passes(r))

    def redact_many(self, texts: list[str]) -> list[tuple[str, dict[str, int]]]:
        """Redact several texts (a conversation's messages): prefilters run once on all of them, and so
        does each remaining rule's search, so a conversation with nothing to redact costs one pass.

        The texts are joined with a blank line: no rule's lookaround or anchor can tell it from the edge
        of a text (tests/test_redact.py checks the rules for that), so a rule that matches in one text
        alone also matches in the joined text. Only when some rule does are the texts redacted one by
        one, with every active rule, exactly as `redact` would."""
        if len(texts) == 1:
            return [self.redact(texts[0])] if texts[0] else [(texts[0], {})]
        gate = self.gate()
        if gate is not None:
            done = self._redact_many_gated(gate, texts)
            if done is not None:
                return done
        joined = JOIN.join(texts)
        active = self.active_rules(joined)
        if not any(_finds(r, joined) for r in active):
            return [(t, {}) for t in texts]
        sub = self._subset(active)
        return [sub.redact(t) if t else (t, {}) for t in texts]

    def _redact_many_gated(
        self, gate: accel.RuleGate, texts: list[str]
    ) -> list[tuple[str, dict[str, int]]] | None:
        """`redact_many` with the gate: the rules `redact_many` would run on the texts are those whose
        prefilters pass on the joined text; of those, each text runs only the ones the gate found in the
        joined text (a match in one text is one in the join, as for the pure path), and after a text
        changes, the ones the gate finds in its new version. None where the gate cannot tell (the pure
        path then runs)."""
        joined = JOIN.join(texts)
        hits = gate.candidates(joined)
        if hits is None:
            return None
        if hits:
            ctx = _Prefilters(joined, self._plans)
            active = {i: ctx.passes(self.rules[i]) for i in hits}
            if any(active.values()):
                rules = self.rules

                def allowed(i: int) -> bool:  # in `active_rules(joined)`, asked only for gate hits
                    ok = active.get(i)
                    if ok is None:
                        ok = active[i] = ctx.passes(rules[i])
                    return ok

                results = [self._redact_gated(gate, t, allowed, hits) if t else (t, {}) for t in texts]
                return None if any(r is None for r in results) else results  # type: ignore[return-value]
        return [(t, {}) for t in texts]

    def _redact_gated(
        self,
        gate: accel.RuleGate,
        text: str,
        allowed: Callable[[int], bool] | None = None,
        hits: set[int] | None = None,
    ) -> tuple[str, dict[str, int]] | None:
        """`redact` running only the rules the gate lets through (and `allowed`), in rule order; `hits`:
        what the gate found in a text holding this one (the conversation joined)."""
        hits = gate.candidates(text) if hits is None else hits
        if hits is None:
            return None
        counts: dict[str, int] = {}
        ctx: _Prefilters | None = None  # the prefilters' shared work on the current text
        order = sorted(i for i in hits if allowed is None or allowed(i))
        k = 0
        while k < len(order):
            i = order[k]
            k += 1
            rule = self.rules[i]
            ctx = ctx or _Prefilters(text, self._plans)
            if not ctx.passes(rule):  # as `redact` would skip it
                continue
            if rule.detector is not None:
                new = self._replace_spans(rule, text, counts)
            else:
                new = rule.regex.sub(self._replacer(rule, counts), text)  # type: ignore[union-attr]
            if new != text:  # what the gate found may have changed: ask it again for the rules after i
                text, ctx, hits = new, None, gate.candidates(new)
                if hits is None:  # cannot happen after a valid text, but stay exact if it did
                    return None
                order, k = sorted(j for j in hits if j > i and (allowed is None or allowed(j))), 0
        return text, counts

    def _subset(self, active: tuple[Rule, ...]) -> Redactor:
        key = tuple(id(r) for r in active)
        sub = self._subsets.get(key)
        if sub is None:
            if len(self._subsets) > 256:  # bounded: a few dozen combinations occur in practice
                self._subsets.clear()
            sub = self._subsets[key] = Redactor(active, accelerate=False)
        return sub

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        gate = self.gate()
        if gate is not None:
            done = self._redact_gated(gate, text)
            if done is not None:
                return done
        return self.redact_pure(text)

    def redact_pure(self, text: str) -> tuple[str, dict[str, int]]:
        """`redact` without the accelerator: every rule's own prefilters, then its pattern."""
        counts: dict[str, int] = {}
        lowered: str | None = None
        shape = _Shape(text)
        gates: dict[str, bool] = {}
        for rule in self.rules:
            if rule.min_digits and shape.n_digits() < rule.min_digits:
                continue
            if rule.requires:
                if rule.ignore_case:
                    lowered = text.lower() if lowered is None else lowered
                    hay = lowered
                else:
                    hay = text
                if not _requires_hit(self._plans[id(rule)], hay):
                    continue
            if rule.gate is not None and not _gate(gates, rule.gate, text, shape):
                continue
            if rule.prefilter is not None and not rule.prefilter(text):
                continue
            if rule.detector is not None:
                new = self._replace_spans(rule, text, counts)
            else:
                new = rule.regex.sub(self._replacer(rule, counts), text)
            if new != text:
                text, lowered, shape = new, None, _Shape(new)
                gates.clear()
        return text, counts

    @staticmethod
    def _replace_spans(rule: Rule, text: str, counts: dict[str, int]) -> str:
        spans = rule.detector(text) if rule.detector else []
        if not spans:
            return text
        counts[rule.type] = counts.get(rule.type, 0) + len(spans)
        parts, last = [], 0
        for a, b in spans:
            parts += [text[last:a], rule.placeholder]
            last = b
        return "".join(parts) + text[last:]

    @staticmethod
    def _replacer(rule: Rule, counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
        def replace(m: re.Match[str]) -> str:
            whole = m.group(0)
            prefix = (m.group(rule.keep_prefix_group) or "") if rule.keep_prefix_group else ""
            if rule.check is not None and not rule.check(whole[len(prefix) :]):
                return whole
            counts[rule.type] = counts.get(rule.type, 0) + 1
            return prefix + rule.placeholder

        return replace


@lru_cache(maxsize=1)
def _default_redactor() -> Redactor:
    return Redactor()


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """Redact PII in one text: (redacted text, {type: count}) with only the types found."""
    return _default_redactor().redact(text)


def _merge(into: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v


def redact_conversation(conv: Conversation) -> tuple[Conversation, dict[str, int]]:
    """Redact every message (and the free-text metadata); record the summary in the metadata.

    When anything was redacted, `conversation_metadata.redacted` becomes "True" and
    `conversation_metadata.extra["redactions"]` holds the per-type counts (added to any earlier summary).
    """
    total: dict[str, int] = {}
    messages = []
    results = _default_redactor().redact_many([m.content for m in conv.conversation])
    for msg, (text, counts) in zip(conv.conversation, results, strict=True):
        _merge(total, counts)
        messages.append(msg if not counts else msg.model_copy(update={"content": text}))
    meta_update: dict = {}
    for field in ("title", "custom_instruction"):
        value = getattr(conv.conversation_metadata, field)
        if value:
            text, counts = redact_text(value)
            if counts:
                _merge(total, counts)
                meta_update[field] = text
    if not total:
        return conv, total
    extra = dict(conv.conversation_metadata.extra)
    summary = dict(extra.get("redactions") or {})
    _merge(summary, total)
    extra["redactions"] = summary
    meta = conv.conversation_metadata.model_copy(update={**meta_update, "redacted": "True", "extra": extra})
    return conv.model_copy(update={"conversation": messages, "conversation_metadata": meta}), total
