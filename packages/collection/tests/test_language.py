"""Language tagging checked on the ChatterBot corpus' real multilingual dialogs."""

from collections import Counter, defaultdict

from sharelm import Conversation
from sharelm.language import LanguageTagger
from sharelm.sources.chatterbot import available_languages, load_corpus

# Dialects lingua has no model for: Hinglish (romanised Hindi-English) and Oriya.
UNSUPPORTED = {"hinglish", "oriya"}


def test_tags_match_corpus_languages():
    sample = []
    for lang in available_languages():
        if lang not in UNSUPPORTED:
            convs = list(load_corpus([lang]))
            sample += convs[:: max(1, len(convs) // 20)][:20]  # spread over the topic files
    expected = [c.conversation_metadata.language for c in sample]
    untagged = [
        c.model_copy(
            update={"conversation_metadata": c.conversation_metadata.model_copy(update={"language": None})}
        )
        for c in sample
    ]
    tagged = list(LanguageTagger().tag(untagged))
    hits: dict[str, Counter] = defaultdict(Counter)
    for exp, conv in zip(expected, tagged, strict=True):
        hits[exp][conv.conversation_metadata.language == exp] += 1
    accuracy = sum(h[True] for h in hits.values()) / len(sample)
    assert len(hits) >= 20
    assert accuracy >= 0.85, {k: h[True] / sum(h.values()) for k, h in hits.items()}
    # Scripts with their own alphabet are unambiguous.
    for lang in ("Japanese", "Korean", "Hebrew", "Thai"):
        assert hits[lang][False] == 0, lang


def test_source_labels_are_kept_unless_overwrite():
    conv = Conversation.model_validate(
        {
            "conversation": [{"role": "user", "content": "Wie spät ist es heute Abend in Berlin?"}],
            "conversation_metadata": {"language": "English"},
        }
    )
    (kept,) = LanguageTagger().tag([conv])
    assert kept.conversation_metadata.language == "English"
    (fixed,) = LanguageTagger(overwrite=True).tag([conv])
    assert fixed.conversation_metadata.language == "German"
