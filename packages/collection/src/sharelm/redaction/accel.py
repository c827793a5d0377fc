"""The optional redaction accelerator (extra `[fast]`: Hyperscan): a gate, never a second set of rules.

One Hyperscan database is compiled from the rules themselves: every regex rule's own pattern and gate, in
Hyperscan's prefilter mode (it reports a match wherever the pattern matches, and maybe elsewhere: lookarounds
and back-references are relaxed), and, for the name rule, the name finder's own trigger patterns followed by
a capital. One scan of a text then says which rules *can* match it; the others cannot change it, so the
engine skips them (`Redactor` in `sharelm.redact`). Output is identical to the pure-Python path, which still
runs every rule that is left, with all its checks. Where the gate cannot vouch for a text it says so (None)
and the pure path runs: text that is not valid UTF-8 (lone surrogates), and, for the name rule only, text
with a letter outside ASCII (Python's Unicode case folding and word classes then differ from Hyperscan's).

Compiling takes seconds, so the database is cached under `$XDG_CACHE_HOME/sharelm` (or `~/.cache/sharelm`),
keyed by a hash of the expressions and the Hyperscan version; `SHARELM_NO_ACCEL=1` turns the gate off.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import hyperscan
except ModuleNotFoundError:  # no [fast] extra: the pure-Python path runs every rule's own prefilters
    hyperscan = None  # type: ignore[assignment]

from sharelm.redaction import names

if TYPE_CHECKING:
    from sharelm.redact import Rule

_UESC = re.compile(r"\\(\\|u([0-9a-fA-F]{4}))")
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_ASCII_LETTERS = [chr(c) for c in range(65, 91)] + [chr(c) for c in range(97, 123)]


def available() -> bool:
    """Whether the accelerator can run (Hyperscan installed, not turned off by SHARELM_NO_ACCEL)."""
    return hyperscan is not None and os.environ.get("SHARELM_NO_ACCEL", "") not in ("1", "true", "yes")


def _ascii_equivalents(c: str) -> str:
    """ASCII letters Python's `re.IGNORECASE` (Unicode) matches to the non-ASCII character c: "ı" -> "Ii"."""
    return "".join(a for a in _ASCII_LETTERS if re.fullmatch(re.escape(c), a, re.IGNORECASE))


def hs_pattern(pattern: str, unicode_caseless: bool = False) -> str:
    """A Python `re` pattern in Hyperscan's syntax: `\\uXXXX` -> `\\x{XXXX}`, named groups unnamed, every
    non-ASCII character as `\\x{..}`. With `unicode_caseless` (a Unicode IGNORECASE pattern scanned only over
    texts whose letters are ASCII) a non-ASCII letter also accepts the ASCII letters Python folds it to."""
    decoded = _UESC.sub(lambda m: "\\\\" if m.group(1) == "\\" else chr(int(m.group(2), 16)), pattern)
    decoded = _NAMED_GROUP.sub("(?:", decoded)
    out, in_class, i = [], False, 0
    while i < len(decoded):
        c = decoded[i]
        if c == "\\":
            out.append(decoded[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class and out[-1] not in ("[", "[^"):
            in_class = False
        if ord(c) < 128:
            out.append(c)
        else:
            extra = _ascii_equivalents(c) if unicode_caseless else ""
            if extra and in_class and "-" in (decoded[i - 1], decoded[i + 1 : i + 2]):
                raise ValueError(f"cannot widen {c!r} inside a range in {pattern!r}")
            esc = f"\\x{{{ord(c):x}}}"
            out.append(esc + extra if in_class else f"[{esc}{extra}]" if extra else esc)
        i += 1
    return "".join(out)


# The characters whose `str.lower()` holds an ASCII letter although they are not ASCII (tests/test_accel.py
# checks the list against every code point): a case-insensitive literal hint, which the pure path looks for
# in `text.lower()`, accepts them too.
_LOWERS_TO_ASCII = {"i": "\u0130", "k": "\u212a"}


def requires_pattern(requires: Sequence[str], ignore_case: bool) -> str:
    """A rule's literal hints as one Hyperscan alternation that matches wherever the pure path's test
    (`q in text`, or `q in text.lower()` for a case-insensitive rule) passes: under CASELESS an ASCII letter
    also accepts the non-ASCII characters that lower-case to it, and a non-ASCII character any character."""

    def char(c: str) -> str:
        if ord(c) >= 128:
            return "." if ignore_case else f"\\x{{{ord(c):x}}}"
        extra = _LOWERS_TO_ASCII.get(c) if ignore_case else None
        return f"[{c}\\x{{{ord(extra):x}}}]" if extra else re.escape(c)

    return "|".join("".join(char(c) for c in q) for q in requires)


def name_gate_patterns() -> list[str]:
    """What the name finder needs before it can find a name (`names.NameFinder`): a trigger ending right
    before a capital, an explicit lower-case introduction, or an uncased script's "my name is"."""
    trigger = hs_pattern(names.TRIGGER.pattern, unicode_caseless=True)
    return [
        f"(?i:{trigger}){hs_pattern(names.UPPER)}",
        hs_pattern(names._LOWER_INTRO.pattern, unicode_caseless=True),
        hs_pattern(names.UNCASED.pattern),
    ]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sharelm"


class RuleGate:
    """Which of `rules` can match a text, from one Hyperscan scan (`candidates`)."""

    def __init__(self, rules: Sequence[Rule]):
        exprs: list[tuple[bytes, int]] = []  # (expression, flags); an expression's id is its position
        self.needs: list[tuple[int, tuple[int, ...]]] = []  # (rule index, expressions that must all match)
        self.any_of: list[tuple[int, tuple[int, ...]]] = []  # (rule index, expressions one of which must)
        self.name_rules = frozenset(i for i, r in enumerate(rules) if r.detector is not None)
        base = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SINGLEMATCH
        for i, r in enumerate(rules):
            if r.detector is not None:
                if r.detector is not names.find_names:
                    raise ValueError(f"no accelerator gate for the detector of rule {r.type!r}")
                ids = tuple(self._add(exprs, p, base | hyperscan.HS_FLAG_UCP) for p in name_gate_patterns())
                self.any_of.append((i, ids))
                continue
            flags = base | (hyperscan.HS_FLAG_CASELESS if r.ignore_case else 0)
            # The rule's own pattern, and its gate and literal hints, which the pure path requires too.
            ids = (self._add(exprs, hs_pattern(r.regex.pattern), flags),)  # type: ignore[union-attr]
            if r.gate is not None:  # same flags as the rule: a necessary condition in both engines
                ids += (self._add(exprs, hs_pattern(r.gate.pattern), flags),)
            if r.requires:
                ids += (self._add(exprs, requires_pattern(r.requires, r.ignore_case), flags),)
            self.needs.append((i, ids))
        self.db = self._database(exprs)
        self._scratch = hyperscan.Scratch(self.db)
        self._local = threading.local()  # a scratch per thread: Hyperscan's may not be shared while scanning

    @staticmethod
    def _add(exprs: list[tuple[bytes, int]], pattern: str, flags: int) -> int:
        exprs.append((pattern.encode("ascii"), flags))
        return len(exprs) - 1

    @staticmethod
    def _database(exprs: list[tuple[bytes, int]]) -> hyperscan.Database:
        patterns, flags = [e for e, _ in exprs], [f for _, f in exprs]
        key = hashlib.sha256(repr((hyperscan.__version__, patterns, flags)).encode()).hexdigest()[:24]
        path = _cache_dir() / f"redaction-gate-{key}.hsdb"
        try:
            return hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        except (OSError, hyperscan.error):
            pass
        db = hyperscan.Database()
        db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=flags)
        try:  # a cache only: where it cannot be written the next process compiles again
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(hyperscan.dumpb(db))
            tmp.replace(path)
        except OSError:
            pass
        return db

    def candidates(self, text: str) -> set[int] | None:
        """Indices of the rules that may match `text` (in `rules`), or None when the gate cannot tell."""
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: Hyperscan needs valid UTF-8
            return None
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch.clone()
        found: set[int] = set()
        self.db.scan(raw, match_event_handler=_collect, context=found, scratch=scratch)
        hits = set()
        if found:
            for i, ids in self.needs:
                if found.issuperset(ids):
                    hits.add(i)
            for i, ids in self.any_of:
                if not found.isdisjoint(ids):
                    hits.add(i)
        if self.name_rules and not text.isascii() and names._NON_ASCII_LETTER.search(text) is not None:
            hits |= self.name_rules  # the name gate vouches only for texts whose letters are ASCII
        return hits


def _collect(id_: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(id_)


@lru_cache(maxsize=4)
def gate_for(rules: tuple[Rule, ...]) -> RuleGate | None:
    """The gate for a rule tuple, built once (None when the accelerator is unavailable)."""
    return RuleGate(rules) if available() else None
