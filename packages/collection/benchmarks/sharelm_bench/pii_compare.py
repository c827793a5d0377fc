"""Per-type precision and recall of sharelm, Presidio and `anonymization` on the full labelled set.

Recall of a type: its positives found. Precision of a type: found / (found + that type's look-alikes
changed), so each look-alike counts against the type it imitates. The first tier's look-alikes imitate
several types at once: they are reported together ("first-tier look-alikes kept"), as are the ordinary
chat lines, which no system should touch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sharelm_bench.labelled import ORDINARY, Example, found, labelled_set
from sharelm_bench.pii import POSITIVES
from sharelm_bench.systems import SYSTEMS


@dataclass
class Tally:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    lookalikes: int = 0

    def to_dict(self) -> dict[str, Any]:
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        return {**self.__dict__, "recall": _r(recall), "precision": _r(precision)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def run_system(redact: Callable[[str], str], examples: list[Example]) -> tuple[list[bool], float, int]:
    """(found per example, CPU seconds, errors). A redactor that raises leaves the text as it was."""
    errors = 0
    outputs = []
    t = time.process_time()
    for e in examples:
        try:
            outputs.append(redact(e.text))
        except Exception:  # noqa: BLE001 - a crash on one input is a result, not a reason to stop
            errors += 1
            outputs.append(e.text)
    cpu = time.process_time() - t
    return [found(e, o) for e, o in zip(examples, outputs, strict=True)], cpu, errors


def score(examples: list[Example], hits: list[bool]) -> dict[str, Any]:
    per_type: dict[str, Tally] = {}
    lookalike_changed: dict[str, list[int]] = {}
    for e, hit in zip(examples, hits, strict=True):
        if e.positive:
            t = per_type.setdefault(e.kind, Tally())
            t.tp, t.fn = t.tp + hit, t.fn + (not hit)
            continue
        lookalike_changed.setdefault(e.kind, [0, 0])
        lookalike_changed[e.kind][0] += hit
        lookalike_changed[e.kind][1] += 1
        if e.target in per_type or e.target not in ("existing", "any"):
            t = per_type.setdefault(e.target, Tally())
            t.fp, t.lookalikes = t.fp + hit, t.lookalikes + 1
    ordinary = lookalike_changed.get(ORDINARY, [0, 0])
    negatives = [(e, h) for e, h in zip(examples, hits, strict=True) if not e.positive]
    first_tier = [h for e, h in negatives if e.target == "existing"]
    return {
        "per_type": {k: v.to_dict() for k, v in sorted(per_type.items())},
        "lookalike_change_rate": {k: round(c / n, 4) for k, (c, n) in sorted(lookalike_changed.items())},
        "lookalikes_kept": round(1 - sum(h for _, h in negatives) / len(negatives), 4),
        "first_tier_lookalikes_kept": round(1 - sum(first_tier) / max(1, len(first_tier)), 4),
        "ordinary_lines_kept": round(1 - ordinary[0] / ordinary[1], 4) if ordinary[1] else None,
    }


def compare_all(
    per_kind: int = 200, seed: int = 0, systems: dict | None = None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    examples = labelled_set(per_kind, seed)
    result: dict[str, Any] = {
        "examples": len(examples),
        "per_kind": per_kind,
        "first_tier_types": sorted(POSITIVES),
        "systems": {},
    }
    for name, make in (systems or SYSTEMS).items():
        log(f"labelled set: {name} on {len(examples):,} sentences")
        hits, cpu, errors = run_system(make(), examples)
        chars = sum(len(e.text) for e in examples)
        result["systems"][name] = {
            **score(examples, hits),
            "errors": errors,
            "cpu_seconds": round(cpu, 3),
            "chars_per_cpu_s": round(chars / cpu) if cpu else None,
        }
    if "presidio" in result["systems"]:  # how Presidio was set up (spaCy model or patterns only)
        from sharelm_bench.systems import presidio_analyzer

        result["presidio_setup"] = presidio_analyzer()[1]
    return result
