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

from sharelm.redaction.checks import CHECKS, iban_ok, luhn_ok, phone_ok
from sharelm.redaction.names import find_names
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


class _Shape:
    """A text's digit count and shape, computed on first use."""

    __slots__ = ("digits", "shape", "text")

    def __init__(self, text: str):
        self.text = text
        self.shape: bytes | None = None
        self.digits = -1

    def n_digits(self) -> int:
        if self.digits < 0:
            self._compute()
        return self.digits

    def _compute(self) -> None:
        raw = self.text.encode("utf-8", "surrogatepass")
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


def _gate(memo: dict[str, bool], gate: re.Pattern[str], text: str, shape: _Shape | None = None) -> bool:
    hit = memo.get(gate.pattern)
    if hit is None:
        if shape is not None and not shape.may_match(gate.pattern):
            hit = memo[gate.pattern] = False
        else:
            hit = memo[gate.pattern] = gate.search(text) is not None
    return hit


class Redactor:
    """Applies the rules in order; each rule sees the previous rule's output."""

    def __init__(self, rules: list[Rule] | tuple[Rule, ...] | None = None):
        self.rules = tuple(rules) if rules is not None else default_rules()
        self._plans = {id(r): requires_plan(r.requires) for r in self.rules if r.requires}

    def active_rules(self, text: str) -> tuple[Rule, ...]:
        """The rules whose prefilters pass on `text`. Prefilters only look for substrings and digit
        counts, so a rule inactive on texts joined together is inactive on each of them."""
        lowered = text.lower()
        shape = _Shape(text)
        n_digits = shape.n_digits()
        gates: dict[str, bool] = {}  # rules sharing a gate pattern scan for it once
        plans = self._plans
        active = []
        for r in self.rules:  # plain loops: this runs for every conversation
            if n_digits < r.min_digits:
                continue
            if r.requires and not _requires_hit(plans[id(r)], lowered if r.ignore_case else text):
                continue
            if r.gate is not None and not _gate(gates, r.gate, text, shape):
                continue
            active.append(r)
        return tuple(active)

    def redact_many(self, texts: list[str]) -> list[tuple[str, dict[str, int]]]:
        """Redact several texts (a conversation's messages): prefilters run once on all of them."""
        active = self.active_rules("\n".join(texts))
        if not active:
            return [(t, {}) for t in texts]
        sub = Redactor(active)
        return [sub.redact(t) if t else (t, {}) for t in texts]

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
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
