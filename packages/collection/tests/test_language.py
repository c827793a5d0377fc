"""Language tagging checked on the ChatterBot corpus' real multilingual dialogs."""

from collections import Counter, defaultdict

from sharelm import Conversation
from sharelm.language import UNKNOWN, LanguageTagger
from sharelm.sources.chatterbot import available_languages, load_corpus

# Dialects lingua has no model for: Hinglish (romanised Hindi-English) and Oriya.
UNSUPPORTED = {"hinglish", "oriya"}


def untagged(conv: Conversation, system: str | None = None) -> Conversation:
    """The dialog with its corpus language removed (and a system prompt put first, when given)."""
    meta = conv.conversation_metadata.model_copy(update={"language": None})
    messages = list(conv.conversation)
    if system:
        messages = [{"role": "system", "content": system}, *[m.model_dump() for m in messages]]
    return Conversation.model_validate(
        {**conv.model_dump(), "conversation": messages, "conversation_metadata": meta.model_dump()}
    )


def corpus_sample(per_language: int = 20) -> list[Conversation]:
    sample = []
    for lang in available_languages():
        if lang not in UNSUPPORTED:
            convs = list(load_corpus([lang]))
            sample += convs[:: max(1, len(convs) // per_language)][:per_language]  # spread over topics
    return sample


def chat(*turns: tuple[str, str]) -> Conversation:
    return Conversation.model_validate({"conversation": [{"role": r, "content": c} for r, c in turns]})


def test_tags_match_corpus_languages_or_say_unknown():
    sample = corpus_sample()
    expected = [c.conversation_metadata.language for c in sample]
    tagged = list(LanguageTagger().tag([untagged(c) for c in sample]))
    hits: dict[str, Counter] = defaultdict(Counter)
    for exp, conv in zip(expected, tagged, strict=True):
        got = conv.conversation_metadata.language
        hits[exp]["unknown" if got == UNKNOWN else got == exp] += 1
    assert len(hits) >= 20
    right, wrong = sum(h[True] for h in hits.values()), sum(h[False] for h in hits.values())
    # Short dialogs: a confident tag is nearly always right, and most dialogs still get one.
    assert right / (right + wrong) >= 0.93, {k: dict(h) for k, h in hits.items()}
    assert (right + wrong) / len(sample) >= 0.85
    # Scripts with their own alphabet are unambiguous.
    for lang in ("Japanese", "Korean", "Hebrew", "Thai"):
        assert hits[lang][True] == sum(hits[lang].values()), lang


def test_short_chat_is_unknown_rather_than_a_guess():
    conv = chat(
        ("system", "You are a helpful assistant. Answer briefly."),
        ("user", "What is the capital of Australia?"),
        ("assistant", "Canberra."),
    )
    (tagged,) = LanguageTagger().tag([conv])
    assert tagged.conversation_metadata.language in ("English", UNKNOWN)  # it was tagged Italian
    (ok,) = LanguageTagger().tag([chat(("user", "OK"), ("assistant", "Sí."))])
    assert ok.conversation_metadata.language == UNKNOWN


def test_system_prompt_is_never_read():
    """A long Italian system prompt in front of short real dialogs in other languages."""
    system = (
        "Sei un assistente utile e cortese. Rispondi sempre in modo breve e chiaro, senza inventare "
        "informazioni, e chiedi chiarimenti quando la domanda dell'utente non è abbastanza precisa."
    )
    others = ("English", "German", "Spanish", "French", "Portuguese", "Dutch", "Turkish", "Russian")
    sample = [c for c in corpus_sample(10) if c.conversation_metadata.language in others]
    expected = [c.conversation_metadata.language for c in sample]
    tagged = list(LanguageTagger().tag([untagged(c, system) for c in sample]))
    got = [c.conversation_metadata.language for c in tagged]
    assert len(sample) >= 60
    assert "Italian" not in got
    assert sum(g == e for g, e in zip(got, expected, strict=True)) / len(sample) >= 0.8


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
