import pytest

from sharelm.sources.chatterbot import available_languages, load_corpus


def test_english_corpus_has_topics_and_alternating_roles():
    convs = list(load_corpus())
    topics = {c.conversation_metadata.extra["topic"] for c in convs}
    assert len(topics) >= 15 and {"greetings", "food"} <= topics
    assert all(c.conversation_metadata.language == "English" for c in convs)
    assert all(c.source == "chatterbot_corpus" for c in convs)
    first = convs[0]
    assert [m.role for m in first.conversation][:2] == ["user", "assistant"]
    assert len({c.conversation_id for c in convs}) == len(convs)


def test_many_languages_are_shipped():
    langs = available_languages()
    assert len(langs) >= 20 and "german" in langs
    german = list(load_corpus(["german"]))
    assert german and all(c.conversation_metadata.language == "German" for c in german)


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="klingon"):
        list(load_corpus(["klingon"]))
