"""The name rule: names after a trigger, checked against the lexicon as strongly as the trigger is weak."""

import pytest

from sharelm.redact import redact_text
from sharelm.redaction.lexicon import lexicon
from sharelm.redaction.names import find_names


def names_in(text: str) -> list[str]:
    return [text[a:b] for a, b in find_names(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi, my name is Henrik Sørensen and I need help.", ["Henrik Sørensen"]),
        ("my name is henrik", ["henrik"]),  # lower case, after an explicit introduction only
        ("I'm Anna Kowalczyk, a nurse.", ["Anna Kowalczyk"]),
        ("Hello, this is Nahla Wojniak from accounting.", ["Nahla Wojniak"]),
        ("Please email my manager Tomasz about it.", ["Tomasz"]),
        ("Write a text to my sister Rola saying I'm late.", ["Rola"]),
        ("Draft a reply to Dr. Kaarel Sanna about it.", ["Kaarel Sanna"]),
        ("Hi Will,\ncan you check?", ["Will"]),  # a common word, but a greeting set off by a comma
        ("Thanks for the help!\n\nKind regards,\nMiia Bailly", ["Miia Bailly"]),
        ("From: Meir van den Nuwenhuysen\nTo: support", ["Meir van den Nuwenhuysen"]),
        ("Hi Ms. Jacobs, about the algorithm", ["Jacobs"]),
        ("Je m'appelle Amélie Poulain.", ["Amélie Poulain"]),
        ("Меня зовут Иван Петров.", ["Иван Петров"]),
        ("你好，我叫王伟，请帮我。", ["王伟"]),
    ],
)
def test_names_in_context(text, expected):
    assert names_in(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'm reading Harry Potter and the Goblet of Fire again.",
        "We saw Dear Evan Hansen on Broadway.",  # a greeting word mid-sentence in title case: a title
        "I watched I Am Sam last night.",
        "Hello Kitty turned 50 this year.",  # a greeting's name without comma or surname
        "Mrs Doubtfire is a comfort film.",  # after a title, only a name the lexicon knows
        "Hi Team, please review the pull request.",
        "Hello World in Rust prints a line.",
        "Will this work on Windows?",
        "This is Spain's best beach.",
        "class JohnSmithParser(BaseParser): pass",
        "user.first_name = form.cleaned_data['first_name']",
        "Dear Sir or Madam, I am writing to complain.",
        "I'm Feeling Lucky is a Google button.",
        "Call the API with [REDACTED_EMAIL] as the sender",
        "Cheers Mate, that worked.",  # a sign-off word the sentence goes on from: thanks, not a signature
        "Dear Diary, today was long.",  # "Dear" + an unknown word, and the line goes on after the comma
        "Is Dr Pepper a cola or not?",  # an honorific before a word known only as a given name
    ],
)
def test_look_alikes_are_not_names(text):
    assert names_in(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cheers, Miia", ["Miia"]),  # a signature: set off by the comma
        ("Thanks,\nAkiko", ["Akiko"]),
        ("Cheers Akiko", ["Akiko"]),  # ending the line
        ("Cheers Akiko!\nSee you", ["Akiko"]),
        ("Dear Nahla,\nthank you for the refund.", ["Nahla"]),  # a letter's salutation line
        ("Hey Rajna, the build is broken again.", ["Rajna"]),  # chat greetings keep unknown names
        ("Ask Dr. Pepper Sanna about it.", ["Pepper Sanna"]),  # a given name with a surname after a title
        ("Ask Dr. Smith about it.", ["Smith"]),  # a surname alone after a title
    ],
)
def test_signatures_salutations_and_titles_keep_names(text, expected):
    assert names_in(text) == expected


def test_lexicon_is_the_shipped_faker_data():
    lex = lexicon()
    assert lex.source.startswith("Faker ")
    assert len(lex.first) > 20_000 and len(lex.last) > 20_000 and len(lex.common) > 10_000
    assert {"Henrik", "Aisha", "Wei", "José"} <= lex.first and {"Sørensen", "Nguyen", "Nowak"} <= lex.last
    assert lex.is_name("Will") and not lex.is_unambiguous_name("Will")  # a name, and a common word


def test_names_get_the_typed_placeholder_and_count():
    out, counts = redact_text("cc: Marta Kowalska\nHi Jonas,\nthe report is late.")
    assert out == "cc: [REDACTED_NAME]\nHi [REDACTED_NAME],\nthe report is late."
    assert counts == {"name": 2}


def test_ascii_candidate_starts_match_the_regex():
    """The C-search path for ASCII texts finds exactly the capitals `_UPPER_START` finds, in order."""
    import random

    from sharelm.redaction.names import _NON_ASCII_LETTER, _UPPER_START, _ascii_upper_starts

    rng = random.Random(3)
    alphabet = " \t\n,:.!?;_-'ABDMPSrsfo"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))) for _ in range(30_000)]
    # Non-ASCII characters that are not letters (curly quotes, a no-break space, a box line, a surrogate)
    # keep a text on the fast path; '²' is a word character to the regex and must not.
    extra = alphabet + "\u2019\u201c\u00a0\u2500\u2026\ud800"
    texts += ["".join(rng.choice(extra) for _ in range(rng.randint(0, 50))) for _ in range(20_000)]
    texts += ["Hi Ann", "Dr. Li", "xDr. Li", "_Mr. Ng", "end. Mrs. Ann", "a.\nBc", "a;\tBc", ", Ab", ":Ab"]
    found = 0
    assert _NON_ASCII_LETTER.search("A\u00b2") and _NON_ASCII_LETTER.search("J\u00fcrgen")
    for t in texts:
        expected = [m.start() for m in _UPPER_START.finditer(t)]
        assert _ascii_upper_starts(t) == expected, t
        found += len(expected)
    assert found > 1000


def _first_chars(items) -> set[str]:
    """Characters a parsed regex (re._parser items) can start with; fails on anything but literals,
    groups and alternations at the start, so a new kind of phrase in UNCASED makes the test fail."""
    from re import _constants as c  # type: ignore[attr-defined]

    op, arg = items[0]
    if op is c.LITERAL:
        return {chr(arg)}
    if op is c.SUBPATTERN:
        return _first_chars(arg[-1])
    if op is c.BRANCH:
        return set().union(*(_first_chars(alt) for alt in arg[1]))
    raise AssertionError(f"UNCASED starts with {op}: update UNCASED_FIRST's derivation")


def test_uncased_first_characters_cover_the_pattern():
    from re import _parser  # type: ignore[attr-defined]

    from sharelm.redaction.names import UNCASED, UNCASED_FIRST

    assert _first_chars(_parser.parse(UNCASED.pattern)) == set(UNCASED_FIRST)
