"""sharelm's optional NER pass with its [ner] extra installed (presidio-analyzer and spaCy, which
requirements-dev.txt brings into .venv), but no spaCy English model (none installs from PyPI): the error says
how to get one. The package's own tests cover the pass with an analyzer of their own."""

import pytest
import spacy

from sharelm.redaction.ner import NerRedactor


def test_without_a_spacy_model_the_error_says_how_to_get_one():
    if any(spacy.util.is_package(m) for m in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")):
        pytest.skip("a spaCy English model is installed here")
    with pytest.raises(RuntimeError, match="spacy download"):
        NerRedactor()
