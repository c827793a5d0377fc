"""The three redactors compared, each text -> redacted text: sharelm, Presidio's analyzer, `anonymization`."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from sharelm_bench.pii_eval import baseline


def sharelm() -> Callable[[str], str]:
    from sharelm.redact import redact_text

    return lambda text: redact_text(text)[0]


def _offline_tldextract() -> None:
    """Presidio's e-mail recognizer calls tldextract, which downloads the public suffix list on first use;
    offline that costs seconds of retries, so use the snapshot the package ships."""
    import tldextract

    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())


@lru_cache(maxsize=1)
def presidio_analyzer() -> tuple[object, str]:
    """Presidio's AnalyzerEngine with its predefined recognizers. With a spaCy English model installed,
    its NER recognizer too (names, places, dates); without one, a blank spaCy pipeline: pattern recognizers
    only. Returns (engine, description)."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    _offline_tldextract()
    model = next(
        (m for m in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm") if spacy.util.is_package(m)), None
    )
    if model is not None:
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
        return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"]), f"spaCy {model} + patterns"

    class BlankSpacy(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    return AnalyzerEngine(
        nlp_engine=engine, supported_languages=["en"]
    ), "pattern recognizers (no spaCy model)"


def presidio(threshold: float = 0.0) -> Callable[[str], str]:
    """Every span the analyzer reports at or above `threshold` (its default is 0) becomes <ENTITY_TYPE>."""
    analyzer, _ = presidio_analyzer()

    def redact(text: str) -> str:
        spans = sorted(
            (r.start, r.end, r.entity_type)
            for r in analyzer.analyze(text, language="en")
            if r.score >= threshold
        )
        out, last = [], 0
        for start, end, kind in spans:
            if start < last:  # overlaps the previous span: already covered
                last = max(last, end)
                continue
            out += [text[last:start], f"<{kind}>"]
            last = end
        return "".join(out) + text[last:]

    return redact


def anonymization() -> Callable[[str], str]:
    return baseline()


SYSTEMS: dict[str, Callable[[], Callable[[str], str]]] = {
    "sharelm": sharelm,
    "presidio": presidio,
    "anonymization": anonymization,
}
