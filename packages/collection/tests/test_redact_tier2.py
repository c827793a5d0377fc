"""The second tier: addresses, handles, secrets, national ids, dates of birth; the public rule list."""

import random

import pytest

from sharelm.redact import RULES, Redactor, default_rules, placeholders, redact_text
from sharelm.redaction import checks


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("we moved to 48 Linden Road, Leeds LS6 2QX last year", "address"),
        ("ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500", "address"),
        ("Ich wohne in der Hauptstraße 12, 10115 Berlin.", "address"),
        ("j'habite au 12, rue de la Paix, 75002 Paris", "address"),
        ("Via Roma 5, 00184 Roma", "address"),
        ("Keizersgracht 123, 1015 CJ Amsterdam", "address"),
        ("postcode SW1A 1AA please", "address"),
        ("DM @marta_k88 for the notes", "handle"),
        ("follow me on Instagram @lena.travels", "handle"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR", "jwt"),
        ("password: Tr0ub4dor&3", "password"),
        ("my password is hunter2", "password"),
        ("postgres://app:S3cr3t-pw@db:5432/prod", "password"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n", "private_key"),
        ("hook https://hooks.slack.com/services/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", "api_key"),
        ("SSN 078-05-1120 on the form", "ssn"),
        ("Mi DNI es 12345678Z.", "national_id"),
        ("CF RSSMRA85T10A562S", "national_id"),
        ("Steuer-ID: 65929970489", "national_id"),
        ("PESEL: 44051401359", "national_id"),
        ("I was born on 12 March 1987.", "date_of_birth"),
        ("DOB: 1987-03-12", "date_of_birth"),
    ],
)
def test_second_tier_positive(text, kind):
    out, counts = redact_text(text)
    assert kind in counts, (out, counts)
    assert placeholders()[kind] in out


@pytest.mark.parametrize(
    "text",
    [
        "I read the Wall Street Journal every morning.",
        "The Beatles recorded at Abbey Road Studios.",
        "We sold 3 Park Avenue Capital bonds.",
        "Route 66 crosses eight states.",
        "@dataclass\nclass Point: x: int",
        "npm i @types/node --save-dev",
        "follow @openai on social media",
        "password: ********",
        "password = getpass()",
        "Password is required.",
        "PASSWORD=${DB_PASSWORD}",
        "the invalid SSN 666-12-3456",
        "Is 12345678A a valid DNI?",
        "The film was released on 12 March 2024.",
        "I was born in 1987.",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 broke it",
    ],
)
def test_second_tier_look_alike_is_kept(text):
    assert redact_text(text) == (text, {})


def test_every_rule_redacts_its_own_example():
    """The public list: every rule, with its placeholder and an example it redacts on its own."""
    assert len(RULES) == len(default_rules()) >= 30
    for rule in RULES:
        assert rule.example, rule.type
        out, counts = Redactor([rule]).redact(rule.example)
        assert counts == {rule.type: counts.get(rule.type, 0)} and counts[rule.type] >= 1, (rule.type, out)
        assert rule.placeholder in out


def test_placeholders_cover_every_type_and_can_outgrow_what_they_replace():
    ph = placeholders()
    assert set(ph) == {r.type for r in RULES}
    assert {"name", "address", "handle", "jwt", "password", "ssn", "national_id", "date_of_birth"} <= set(ph)
    out, _ = redact_text("Hi Li,\nthanks")  # a two-letter name becomes a 15-character placeholder
    assert out == "Hi [REDACTED_NAME],\nthanks" and len(out) > len("Hi Li,\nthanks")


@pytest.mark.parametrize(
    ("check", "valid", "invalid"),
    [
        ("ssn", "078-05-1120", "666-05-1120"),
        ("dni", "12345678Z", "12345678A"),
        ("dni", "X1234567L", "X1234567A"),
        ("codice_fiscale", "RSSMRA85T10A562S", "RSSMRA85T10A562T"),
        ("nir", "1 85 05 78 006 084 91", "1 85 05 78 006 084 36"),
        ("steuer_id", "65929970489", "65929970488"),
        ("bsn", "111222333", "111222334"),
        ("pesel", "44051401359", "44051401358"),
        ("personnummer", "811228-9874", "811228-9875"),
        ("be_nrn", "85.07.30-033.28", "85.07.30-033.61"),
        ("hetu", "131052-308T", "131052-308U"),
    ],
)
def test_national_id_checksums(check, valid, invalid):
    assert checks.CHECKS[check](valid) and not checks.CHECKS[check](invalid)


def test_no_crash_and_no_growth_of_clean_text_on_random_input():
    rng = random.Random(11)
    alphabet = "aZ09 .,:;-_@#/\\\n\t'\"()[]{}<>$%&*+=?!éßøł中文Жж€\u200b\u2019"
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        out, counts = redact_text(text)
        assert isinstance(out, str) and all(v > 0 for v in counts.values())
        assert counts or out == text


@pytest.mark.parametrize("filler", [" ", "\n", "a", "A", "1", "-", ".", "@", ":", "_"])
def test_scan_time_grows_linearly_with_a_long_run(filler):
    """No rule backtracks quadratically (an upload may be 200,000 characters of one thing after a trigger
    word): four times the run costs about four times the time, not sixteen (a ratio, not a time limit)."""
    import time

    examples = " ".join(rule.example for rule in RULES)

    def cost(n: int) -> float:
        run = filler * n
        text = f"{examples} DM me @marta on Instagram{run} x handle{run} x username{run} x {run}"
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            redact_text(text)
            best = min(best, time.process_time() - start)
        return best

    cost(1000)  # warm: compiled patterns, lexicon
    small, large = cost(20_000), cost(80_000)
    assert large / max(small, 1e-3) < 9, f"{filler!r}: {small:.4f}s at 20k, {large:.4f}s at 80k"
