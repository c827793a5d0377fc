"""PII redaction with typed placeholders, driven by one JSON rules file shared with the browser plugin.

`redact_text("mail me at a@b.org")` -> `("mail me at [REDACTED_EMAIL]", {"email": 1})`.
The rules (regexes in the common subset of Python `re` and JavaScript RegExp, plus named post-checks such
as Luhn and IBAN mod-97) live in `data/redaction_rules.json`; `RULES_PATH` points at it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sharelm.schema import Conversation

RULES_PATH = Path(__file__).parent / "data" / "redaction_rules.json"

_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = b"0123456789"


def count_digits(text: str) -> int:
    """ASCII digits in text (bytes.translate runs in C: far cheaper than a regex scan)."""
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, _ASCII_DIGITS))


def luhn_ok(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    s = value.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s.isalnum():
        return False
    rearranged = s[4:] + s[:4]
    # Letters count as two digits (A=10 ... Z=35); the whole number mod 97 must be 1.
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


_DATE_LIKE = re.compile(r"^(?:\d{4}[-/. ]\d{1,2}[-/. ]\d{1,2}|\d{1,2}[-/. ]\d{1,2}[-/. ]\d{4})(?!\d)")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[ .]\d{3})+$")


def phone_ok(value: str) -> bool:
    n = sum(c.isdigit() for c in value)
    lo, hi = (8, 15) if value.startswith("+") else (9, 12)  # E.164 allows 15 with the country code
    if not lo <= n <= hi:
        return False
    if _DATE_LIKE.match(value):
        return False
    return not _THOUSANDS.match(value)


def ipv6_ok(value: str) -> bool:
    addr = value.split("%", 1)[0]
    if addr.count("::") > 1 or ":::" in addr:
        return False
    groups = [g for g in addr.split(":") if g]
    if "::" in addr:
        if not 2 <= len(groups) <= 7:
            return False
    elif len(groups) != 8 or addr.startswith(":") or addr.endswith(":"):
        return False
    if any(len(g) > 4 for g in groups):
        return False
    return any(len(g) >= 3 for g in groups)


_CODE_CHARS = set("()[]{}<>$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def secret_ok(value: str) -> bool:
    if any(c in _CODE_CHARS for c in value) or _ENV_NAME.match(value):
        return False
    if value.startswith(("os.", "env.", "process.")):
        return False
    if _DIGIT.search(value):
        return True
    has_symbol = any(not c.isalnum() for c in value)
    mixed_case = value.lower() != value and value.upper() != value
    return len(value) >= 12 and (has_symbol or mixed_case)


def token_ok(value: str) -> bool:
    if _DIGIT.search(value) and any(c.isalpha() for c in value):
        return True
    return len(value) >= 20 and value.lower() != value and value.upper() != value


CHECKS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn_ok,
    "iban": iban_ok,
    "phone": phone_ok,
    "ipv6": ipv6_ok,
    "secret": secret_ok,
    "token": token_ok,
}


@dataclass(frozen=True)
class Rule:
    type: str
    placeholder: str
    regex: re.Pattern[str]
    keep_prefix_group: int = 0
    check: Callable[[str], bool] | None = None
    # Literal hints: the rule cannot match unless one of them occurs (a cheap test before the regex scan).
    requires: tuple[str, ...] = ()
    # A cheaper regex that must match before the full rule runs (also an optimisation only).
    gate: re.Pattern[str] | None = None
    min_digits: int = 0
    ignore_case: bool = False


def _compile(spec: dict) -> Rule:
    flags = re.ASCII  # JavaScript's \d \w \b are ASCII-only; keep both engines matching the same text
    ignore_case = "i" in spec.get("flags", "")
    if ignore_case:
        flags |= re.IGNORECASE
    check = spec.get("check")
    if check is not None and check not in CHECKS:
        raise ValueError(f"redaction rule {spec['type']!r}: unknown check {check!r}")
    requires = tuple(spec.get("requires", ()))
    return Rule(
        type=spec["type"],
        placeholder=spec["placeholder"],
        regex=re.compile(spec["pattern"], flags),
        keep_prefix_group=int(spec.get("keep_prefix_group", 0)),
        check=CHECKS[check] if check else None,
        requires=tuple(r.lower() for r in requires) if ignore_case else requires,
        gate=re.compile(spec["gate"], flags) if spec.get("gate") else None,
        min_digits=int(spec.get("min_digits", 0)),
        ignore_case=ignore_case,
    )


def load_rules(path: str | Path = RULES_PATH) -> list[Rule]:
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    return [_compile(r) for r in spec["rules"]]


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    return tuple(load_rules())


class Redactor:
    """Applies the rules in order; each rule sees the previous rule's output."""

    def __init__(self, rules: list[Rule] | tuple[Rule, ...] | None = None):
        self.rules = tuple(rules) if rules is not None else default_rules()

    def active_rules(self, text: str) -> tuple[Rule, ...]:
        """The rules whose prefilters pass on `text`. Prefilters only look for substrings and digit
        counts, so a rule inactive on texts joined together is inactive on each of them."""
        lowered = text.lower()
        n_digits = count_digits(text)
        active = []
        for r in self.rules:  # plain loops: this runs for every conversation
            if n_digits < r.min_digits:
                continue
            if r.requires:
                hay = lowered if r.ignore_case else text
                for q in r.requires:
                    if q in hay:
                        break
                else:
                    continue
            if r.gate is not None and r.gate.search(text) is None:
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
        n_digits = -1
        for rule in self.rules:
            if rule.min_digits:
                if n_digits < 0:
                    n_digits = count_digits(text)
                if n_digits < rule.min_digits:
                    continue
            if rule.requires:
                if rule.ignore_case:
                    lowered = text.lower() if lowered is None else lowered
                    hay = lowered
                else:
                    hay = text
                if not any(r in hay for r in rule.requires):
                    continue
            if rule.gate is not None and rule.gate.search(text) is None:
                continue
            new = rule.regex.sub(self._replacer(rule, counts), text)
            if new != text:
                text, lowered, n_digits = new, None, -1
        return text, counts

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
