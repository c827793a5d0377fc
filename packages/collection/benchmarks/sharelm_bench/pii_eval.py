"""Labelled PII evaluation: our rules vs `anonymization` (the public ShareLM backend's anonymizer).

Each example is a sentence holding one value. A positive (real PII) counts as found when the value no
longer appears in the output; a negative (a look-alike: version number, order id, timestamp, a card
number failing Luhn...) counts as a false positive when it was altered. Same criterion for both systems.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sharelm_bench.pii import BASELINE_TYPES, NEGATIVE_TEMPLATES, NEGATIVES, POSITIVES


@dataclass(frozen=True)
class Example:
    text: str
    value: str
    kind: str  # PII type, or the look-alike category
    positive: bool


def labelled_set(per_type: int = 100, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    examples = []
    for kind in sorted(POSITIVES):
        gen, templates = POSITIVES[kind]
        for _ in range(per_type):
            value = gen(rng)
            examples.append(Example(rng.choice(templates).format(v=value), value, kind, True))
    for kind in sorted(NEGATIVES):
        for _ in range(per_type):
            value = NEGATIVES[kind](rng)
            examples.append(Example(rng.choice(NEGATIVE_TEMPLATES).format(v=value), value, kind, False))
    return examples


def ours() -> Callable[[str], str]:
    from sharelm.redact import redact_text

    return lambda text: redact_text(text)[0]


@lru_cache(maxsize=1)
def _anonymization_modules() -> dict[str, Any]:
    """The `anonymization` package's regex anonymizers. Its `__init__` also imports spaCy for NER
    anonymizers the ShareLM chain does not use; without spaCy installed, load the regex modules directly
    (the package's own code, only its eager spaCy import skipped)."""
    try:
        import anonymization

        return vars(anonymization)
    except ModuleNotFoundError as exc:
        if exc.name != "spacy":
            raise
    spec = importlib.util.find_spec("anonymization")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the `anonymization` package is not installed (pip install anonymization)")
    root = Path(spec.origin).parent
    names: dict[str, Any] = {}
    for pkg in ("anonymization", "anonymization.anonymizers"):
        if pkg not in sys.modules or not hasattr(sys.modules[pkg], "__path__"):
            module = types.ModuleType(pkg)
            module.__path__ = [str(root / pkg.partition(".")[2].replace(".", "/"))]
            sys.modules[pkg] = module
    for mod in (
        "anonymization.Anonymization",
        "anonymization.anonymizers.internetAnonymizers",
        "anonymization.anonymizers.phoneNumberAnonymizers",
        "anonymization.anonymizers.bankingAnonymizers",
    ):
        names.update(vars(importlib.import_module(mod)))
    return names


class Baseline:
    """The chain the public ShareLM backend runs: email, phone, MAC, IPv4, IPv6, credit card, IBAN.

    anonymization 0.1.9's IbanAnonymizer raises TypeError whenever its regex matches (its capture groups
    make `re.findall` return tuples). We run the anonymizers one by one and let a crashing one leave the
    text as it was (counted in `crashes`), which is kinder than the real chain: there the whole call fails.
    """

    def __init__(self) -> None:
        a = _anonymization_modules()
        context = a["Anonymization"]("en_US")
        self.anonymizers = [
            a[name](context)
            for name in (
                "EmailAnonymizer",
                "PhoneNumberAnonymizer",
                "MacAddressAnonymizer",
                "Ipv4Anonymizer",
                "Ipv6Anonymizer",
                "CreditCardAnonymizer",
                "IbanAnonymizer",
            )
        ]
        self.crashes = 0

    def __call__(self, text: str) -> str:
        for anonymizer in self.anonymizers:
            try:
                text = anonymizer.anonymize(text)
            except TypeError:
                self.crashes += 1
        return text


def baseline() -> Baseline:
    return Baseline()


@dataclass
class Scores:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def to_dict(self) -> dict[str, float]:
        return {**self.__dict__, "precision": round(self.precision, 4), "recall": round(self.recall, 4)}


def score(
    redact: Callable[[str], str], examples: list[Example], types: tuple[str, ...] | None = None
) -> dict:
    """Overall scores (positives restricted to `types` when given), per-type recall, per-category FP rate."""
    overall = Scores()
    per_type: dict[str, Scores] = {}
    per_negative: dict[str, Scores] = {}
    for ex in examples:
        if ex.positive and types is not None and ex.kind not in types:
            continue
        changed = ex.value not in redact(ex.text)
        bucket = (per_type if ex.positive else per_negative).setdefault(ex.kind, Scores())
        for s in (overall, bucket):
            if ex.positive:
                s.tp += changed
                s.fn += not changed
            else:
                s.fp += changed
                s.tn += not changed
    return {
        "overall": overall.to_dict(),
        "recall_by_type": {k: round(v.recall, 4) for k, v in sorted(per_type.items())},
        "false_positive_rate_by_lookalike": {
            k: round(v.fp / (v.fp + v.tn), 4) for k, v in sorted(per_negative.items())
        },
    }


def compare(per_type: int = 100, seed: int = 0) -> dict:
    """Both systems side by side, on all types and on the types the baseline claims to cover."""
    examples = labelled_set(per_type, seed)
    systems = {"sharelm": ours(), "anonymization": baseline()}
    result: dict = {"examples": len(examples), "per_type": per_type}
    for name, fn in systems.items():
        t = time.process_time()
        result[name] = {
            "all_types": score(fn, examples),
            "baseline_types": score(fn, examples, BASELINE_TYPES),
            "cpu_seconds": round(time.process_time() - t, 3),
        }
        if isinstance(fn, Baseline):
            result[name]["crashes"] = fn.crashes
    return result
