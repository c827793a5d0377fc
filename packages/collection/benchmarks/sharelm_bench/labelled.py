"""The labelled set for every type, old and new: positives (one value per sentence) and look-alikes tied to
the type they imitate, plus ordinary chat lines (real ChatterBot utterances) that must come out unchanged.

Scoring, the same for every system: a positive is found when its value is gone, and for names and addresses
when none of its words (those not also in the sentence around it) is left, so half a redacted address is a
miss; a look-alike or an ordinary line is a false positive when the output differs from the input at all.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from sharelm_bench import people, secrets_ids
from sharelm_bench.pii import NEGATIVE_TEMPLATES, NEGATIVES, POSITIVES

Gen = Callable[[random.Random], tuple[str, str]]


def _templated(gen: Callable[[random.Random], str], templates: list[str]) -> Gen:
    def make(rng: random.Random) -> tuple[str, str]:
        v = gen(rng)
        return rng.choice(templates).format(v=v), v

    return make


def _fixed(kind: str, pool: list[str]) -> Callable[[random.Random], tuple[str, str]]:
    return lambda rng: (kind, rng.choice(pool))


S = secrets_ids
NEW_POSITIVES: dict[str, Gen] = {
    "name": people.name_positive,
    "address": people.address_positive,
    "handle": people.handle_positive,
    "jwt": _templated(S.jwt, S.JWT_TEMPLATES),
    "password": _templated(S.password, S.PASSWORD_TEMPLATES),
    "private_key": _templated(S.private_key, S.KEY_TEMPLATES),
    "cloud/chat token": _templated(S.cloud_token, S.TOKEN_TEMPLATES),
    "ssn": _templated(S.ssn, S.SSN_TEMPLATES),
    "national_id": S.national_id_positive,
    "date_of_birth": _templated(S.birth_date, S.DOB_TEMPLATES),
}
# look-alike generator -> the type it imitates (its false positives count against that type's precision)
NEW_NEGATIVES: dict[str, tuple[str, Callable[[random.Random], tuple[str, str]]]] = {
    "name": ("name", people.name_negative),
    "address": ("address", people.address_negative),
    "handle": ("handle", people.handle_negative),
    "password": ("password", _fixed("password look-alike: field names, masks, code", S.PASSWORD_LOOKALIKES)),
    "token": ("cloud/chat token", _fixed("token look-alike: hashes, ids, env names", S.TOKEN_LOOKALIKES)),
    "ssn": ("ssn", S.ssn_negative),
    "national_id": ("national_id", S.national_id_negative),
    "date_of_birth": (
        "date_of_birth",
        _fixed("date look-alike: dates that are not births", S.DOB_LOOKALIKES),
    ),
}
ORDINARY = "ordinary chat line (ChatterBot)"


@dataclass(frozen=True)
class Example:
    text: str
    value: str  # the PII value (positives); the look-alike sentence itself (negatives)
    kind: str  # positive: its type; negative: the look-alike category
    positive: bool
    target: str  # the type a positive is, or a look-alike imitates ("existing" for the old look-alikes)


def _ordinary_lines() -> list[str]:
    from sharelm_bench.generate import utterances

    return sorted(utterances())


def labelled_set(per_kind: int = 100, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out: list[Example] = []
    for kind in sorted(POSITIVES):  # the first tier, as its own benchmark generates it
        gen, templates = POSITIVES[kind]
        for _ in range(per_kind):
            v = gen(rng)
            out.append(Example(rng.choice(templates).format(v=v), v, kind, True, kind))
    for kind, gen in NEW_POSITIVES.items():
        for _ in range(per_kind):
            text, v = gen(rng)
            out.append(Example(text, v, kind, True, kind))
    for kind in sorted(NEGATIVES):
        for _ in range(per_kind):
            text = rng.choice(NEGATIVE_TEMPLATES).format(v=NEGATIVES[kind](rng))
            out.append(Example(text, text, kind, False, "existing"))
    for target, gen in NEW_NEGATIVES.values():
        for _ in range(per_kind):
            kind, text = gen(rng)
            out.append(Example(text, text, kind, False, target))
    lines = _ordinary_lines()
    out += [Example(t, t, ORDINARY, False, "any") for t in rng.sample(lines, min(len(lines), 4 * per_kind))]
    return out


_WORD = re.compile(r"\w+")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")  # scripts written without spaces


# Values of several words, where redacting part of one (a street but not the city) still leaks the rest.
MULTI_WORD = ("name", "address")


def found(example: Example, output: str) -> bool:
    """Negative: the text was changed. Positive: the value is gone; for names and addresses, every word of it
    (not for the rest: a system that swaps in fake values, like `anonymization`, may reuse "gmail")."""
    if not example.positive:
        return output != example.text
    if example.kind not in MULTI_WORD:
        return example.value not in output
    around = set(_WORD.findall(example.text.replace(example.value, " ")))
    words = [w for w in _WORD.findall(example.value) if w not in around and (len(w) > 1 or not w.isascii())]
    left = set(_WORD.findall(output))
    if not words:
        return example.value not in output
    return not any((w in output) if _UNSPACED.search(w) else (w in left) for w in words)
