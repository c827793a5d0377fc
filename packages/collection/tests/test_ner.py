"""The optional NER pass, with a stand-in analyzer (no spaCy model installs from PyPI here)."""

from dataclasses import dataclass

from sharelm.redact import redact_text
from sharelm.redaction.ner import NerRedactor


@dataclass
class Hit:
    start: int
    end: int
    entity_type: str
    score: float


class FakeAnalyzer:
    """Reports fixed words as entities, as Presidio's analyzer reports spaCy's."""

    def __init__(self, words: dict[str, tuple[str, float]]):
        self.words = words

    def analyze(self, text, language, entities=None):
        assert language == "en" and set(entities) == {"PERSON", "LOCATION"}
        return [
            Hit(text.index(w), text.index(w) + len(w), e, s) for w, (e, s) in self.words.items() if w in text
        ]


def test_ner_pass_redacts_what_the_rules_miss_after_them():
    text = "Henrik Sørensen said Leeds was rainy; mail bob@example.com"
    ruled, counts = redact_text(text)
    assert "Henrik" in ruled and counts == {"email": 1}  # no context: the rules leave the name
    ner = NerRedactor(FakeAnalyzer({"Henrik Sørensen": ("PERSON", 0.85), "Leeds": ("LOCATION", 0.85),
                                    "rainy": ("LOCATION", 0.2)}))  # fmt: skip
    out, ner_counts = ner.redact(ruled)
    assert out == "[REDACTED_NAME] said [REDACTED_ADDRESS] was rainy; mail [REDACTED_EMAIL]"
    assert ner_counts == {"name": 1, "address": 1}


def test_ner_pass_leaves_placeholders_alone():
    ner = NerRedactor(FakeAnalyzer({"[REDACTED_EMAIL]": ("PERSON", 0.9)}))
    assert ner.redact("mail [REDACTED_EMAIL]") == ("mail [REDACTED_EMAIL]", {})
