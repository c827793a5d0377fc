"""Optional named-entity pass for names and places the rules miss (extra `[ner]`: Presidio's analyzer).

The rules catch names in context ("my name is ...", "Hi ...,"); a named-entity model also catches a bare
"Henrik Sørensen said" and place names without a street number, at the price of a model (a spaCy English
pipeline, 12 to 560 MB, not on PyPI: `python -m spacy download en_core_web_sm`) and about 100x the CPU.
It runs after the rules, on their output, so it never sees what they already replaced:

    ner = NerRedactor()                      # raises with instructions when no spaCy model is installed
    text, counts = ner.redact(redact_text(text)[0])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sharelm.redact import placeholders

# Presidio entity -> our redaction type (placeholders from the rules file, so both passes agree).
ENTITY_TYPES = {"PERSON": "name", "LOCATION": "address"}
MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")


class Analyzer(Protocol):
    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> Iterable[Any]: ...


def presidio_analyzer(model: str | None = None) -> Analyzer:
    """Presidio's AnalyzerEngine over an installed spaCy English model (the first of MODELS found)."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    found = model or next((m for m in MODELS if spacy.util.is_package(m)), None)
    if found is None or not spacy.util.is_package(found):
        raise RuntimeError(
            "the NER pass needs a spaCy English model: python -m spacy download en_core_web_sm "
            "(spaCy's models are published on GitHub, not on PyPI)"
        )
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": found}])
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


class NerRedactor:
    def __init__(self, analyzer: Analyzer | None = None, threshold: float = 0.5):
        self.analyzer = analyzer if analyzer is not None else presidio_analyzer()
        self.threshold = threshold
        ph = placeholders()
        self.placeholder = {entity: ph[kind] for entity, kind in ENTITY_TYPES.items()}

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        results = self.analyzer.analyze(text, language="en", entities=list(ENTITY_TYPES))
        spans = sorted(
            (r.start, r.end, r.entity_type)
            for r in results
            if r.score >= self.threshold
            and r.entity_type in ENTITY_TYPES
            and "[REDACTED_" not in text[r.start : r.end]
        )
        counts: dict[str, int] = {}
        parts, last = [], 0
        for start, end, entity in spans:
            if start < last:  # overlaps the previous span
                continue
            parts += [text[last:start], self.placeholder[entity]]
            kind = ENTITY_TYPES[entity]
            counts[kind] = counts.get(kind, 0) + 1
            last = end
        return "".join(parts) + text[last:], counts
