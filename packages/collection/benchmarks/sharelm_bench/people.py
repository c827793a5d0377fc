"""Names, addresses and handles for the labelled set, and look-alikes of each.

Given names come from gender-guesser's dictionary (names common in at least one of 54 countries), not
from Faker, so the name rule's lexicon (built from Faker) is tested on names it was not built from;
surnames, Cyrillic and Chinese names and cities come from Faker (the version `anonymization` pins).
"""

from __future__ import annotations

import random
import re
import string
from functools import cache, lru_cache

from faker import Faker

_SIMPLE = re.compile(r"[^\W\d_]{3,}(?:-[^\W\d_]{2,})?")


@lru_cache(maxsize=1)
def given_names() -> tuple[str, ...]:
    import gender_guesser.detector as gg

    names = gg.Detector().names

    def popularity(name: str) -> int:
        values = "".join(names[name].values())
        return max((int(c, 16) for c in values if c in string.hexdigits), default=0)

    keep = (
        n
        for n in names
        if _SIMPLE.fullmatch(n)
        and n[0].isupper()
        and not any(c.isupper() for c in n[1:])
        and popularity(n) >= 5
    )
    return tuple(sorted(keep))


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


def faker(locale: str, seed: int) -> Faker:
    """The locale's Faker, reseeded from our generator (one instance per locale: creating one is slow)."""
    f = _faker(locale)
    f.seed_instance(seed)
    return f


SURNAME_LOCALES = [
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pl_PL",
    "pt_BR",
    "tr_TR",
    "sv_SE",
    "fi_FI",
    "cs_CZ",
    "hu_HU",
    "ja_JP",
]


def surname(rng: random.Random) -> str:
    loc = rng.choice(SURNAME_LOCALES)
    f = faker(loc, rng.randrange(1000))
    last = f.last_romanized_name() if loc == "ja_JP" else f.last_name()
    if not last[0].isupper() or not last.replace("-", "").replace("'", "").replace(" ", "").isalpha():
        return f.last_name() if loc != "ja_JP" else "Sato"
    return last


def person(rng: random.Random) -> tuple[str, str]:
    """(given name, full name)."""
    first = rng.choice(given_names())
    return first, f"{first} {surname(rng)}"


def cyrillic_name(rng: random.Random) -> str:
    f = faker("ru_RU", rng.randrange(1000))
    return f"{f.first_name_male()} {f.last_name_male()}"


def chinese_name(rng: random.Random) -> str:
    return faker("zh_CN", rng.randrange(1000)).name()


NAME_TEMPLATES_FULL = [
    "Hi, my name is {v} and I need help with my CV.",
    "My name is {v}. Can you write a cover letter for me?",
    "I'm {v}, a nurse from the night shift, and I need a rota template.",
    "Hello, this is {v} from accounting: the March invoice is wrong.",
    "Please rewrite this email to my manager {v} so it sounds less angry.",
    "My colleague {v} keeps taking credit for my work. What should I say?",
    "Draft a reply to Dr. {v} about moving my appointment.",
    "cc: {v}\nSubject: quarterly numbers",
    "From: {v}\nTo: support\nMy order never arrived.",
    "Thanks for the help!\n\nBest regards,\n{v}",
    "Can you make this sound professional?\n\nKind regards,\n{v}",
    "Dear {v},\nthank you for your patience with the refund.",
    "Write a birthday poem for my wife {v}.",
    "Je m'appelle {v} et je cherche un appartement.",
    "Me llamo {v} y necesito ayuda con mi tesis.",
    "Ich heiße {v} und suche eine Wohnung in Köln.",
    "Mi chiamo {v}, potresti correggere questa lettera?",
    "My friend {v} said the exam was easy, is that true?",
]
NAME_TEMPLATES_GIVEN = [
    "Hi {v},\ncould you send me the slides from today?",
    "Hello {v}! Are we still on for Friday?",
    "Thanks,\n{v}",
    "Cheers, {v}",
    "I'm {v} and I'm learning Python.",
    "My boss {v} wants the report by Monday.",
    "Write a text to my sister {v} saying I will be late.",
    "Hey {v}, the build is broken again.",
]


def name_positive(rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    if r < 0.06:
        v = cyrillic_name(rng)
        return f"Меня зовут {v}, помогите с резюме.", v
    if r < 0.10:
        v = chinese_name(rng)
        return f"你好，我叫{v}，请帮我写一封求职信。", v
    first, full = person(rng)
    if r < 0.65:
        return rng.choice(NAME_TEMPLATES_FULL).format(v=full), full
    return rng.choice(NAME_TEMPLATES_GIVEN).format(v=first), first


# Look-alikes of names: famous works and brands (people's names inside), code, capitalised common words.
FAMOUS = [
    "I'm reading Harry Potter and the Goblet of Fire again.",
    "We saw Dear Evan Hansen on Broadway.",
    "Is Anna Karenina worth reading in translation?",
    "I watched I Am Sam last night and cried.",
    "Calvin Klein jeans run small, order a size up.",
    "Compare Tommy Hilfiger and Ralph Lauren polos.",
    "Ben & Jerry's makes the best cookie dough.",
    "Mrs Doubtfire is a comfort film for me.",
    "Mr. Bean has almost no dialogue.",
    "Is Dr Pepper a cola or not?",
    "The Sherlock Holmes stories are public domain.",
    "Explain the ending of Donnie Darko.",
    "Summarise the plot of Madame Bovary.",
    "Hello Kitty turned 50 this year.",
    "Tom Ford perfume is too expensive.",
    "Is Jack Daniels a bourbon?",
    "Play something by Billie Eilish.",
    "Write an essay on Martin Luther King Jr. Day.",
    "The Alan Turing Institute publishes reports.",
    "Lucy in the Sky with Diamonds is a Beatles song.",
    "Was Peter Pan written for children?",
    "I love Forrest Gump, but the book is different.",
    "Hi Kitty was the name of the cafe.",
]
CODE = [
    "class JohnSmithParser(BaseParser): pass",
    "user.first_name = form.cleaned_data['first_name']",
    "const MarkdownRenderer = require('./Markdown');",
    "def get_grant_id(self): return self.grant.id",
    "SELECT first_name, last_name FROM employees WHERE id = 3;",
    "import Alamofire; let r = AF.request(url)",
    "new Promise((resolve) => setTimeout(resolve, 100))",
    "The Victor.parse() method returns None.",
    "Use Jackson.ObjectMapper to read the JSON.",
    "from Crypto.Cipher import AES",
]
CAPITALISED = [
    "Hi Team, please review the pull request.",
    "Hello World in Rust prints a line.",
    "Thanks Again for the quick fix!",
    "Dear Sir or Madam, I am writing to complain.",
    "Hi All, the meeting moved to 3pm.",
    "Will this work on Windows?",
    "May I ask a follow-up question?",
    "I'm Feeling Lucky is a Google button.",
    "Hello Everyone, welcome back.",
    "Best Practices for API design?",
    "Thanks Google for nothing.",
    "This is Spain's best beach, apparently.",
    "Hi There! Can you help?",
    "Cheers Mate, that worked.",
    "My Manager role starts in May.",
    "Love Actually is on TV tonight.",
    "Dear Diary, today was long.",
    "I am Happy with the result.",
]


def name_negative(rng: random.Random) -> tuple[str, str]:
    pool = rng.choice([FAMOUS, CODE, CAPITALISED])
    kind = {
        id(FAMOUS): "name look-alike: famous work / brand",
        id(CODE): "name look-alike: code",
        id(CAPITALISED): "name look-alike: capitalised words",
    }[id(pool)]
    return kind, rng.choice(pool)


# Addresses: street lines in each country's own layout, sometimes with the city line and postcode.
GB_LETTERS = "ABCDEFGHJKLMNOPRSTUWYZ"
US_STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
]  # noqa: E501
US_SUFFIXES = [
    "Street",
    "St",
    "Avenue",
    "Ave",
    "Road",
    "Rd",
    "Drive",
    "Dr",
    "Lane",
    "Boulevard",
    "Blvd",
    "Way",
    "Court",
    "Place",
    "Terrace",
    "Circle",
    "Parkway",
    "Trail",
    "Highway",
    "Ridge",
    "Hollow",
    "Creek",
    "Crossing",
    "Heights",
    "Forge",
    "Knolls",
    "Pike",
    "Loop",
    "Run",
]
GB_SUFFIXES = [
    "Road",
    "Street",
    "Lane",
    "Close",
    "Avenue",
    "Drive",
    "Gardens",
    "Crescent",
    "Way",
    "Terrace",
    "Mews",
    "Grove",
    "Place",
    "Square",
    "Hill",
    "Row",
    "Walk",
    "Rise",
]


def _gb_postcode(rng: random.Random) -> str:
    area = rng.choice(["LS", "M", "B", "SW", "EC", "N", "G", "EH", "CF", "BS", "OX", "CB", "NE", "L"])
    return f"{area}{rng.randint(1, 20)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"  # noqa: E501


def _base(rng: random.Random, locale: str) -> str:
    f = faker(locale, rng.randrange(1000))
    word = (f.last_name() if rng.random() < 0.6 else f.city()).split()[-1]  # "de Keijzer" -> "Keijzer"
    return word[:1].upper() + word[1:]


_CITY_PARTICLES = {"di", "del", "della", "a", "al", "in", "sul", "de", "la", "le", "sur", "am", "an", "im"}


def _city(rng: random.Random, locale: str) -> str:
    """Faker's city, written as places are ("Borgo Samuel terme" -> "Borgo Samuel Terme")."""
    words = faker(locale, rng.randrange(1000)).city().split()
    return " ".join(w if w in _CITY_PARTICLES or not w[:1].islower() else w.capitalize() for w in words)


def street_line(rng: random.Random) -> tuple[str, str]:
    """(locale, street line)"""
    country = rng.choice(["US", "GB", "DE", "FR", "ES", "IT", "NL", "PL"])
    n = rng.randint(1, 2500) if country == "US" else rng.randint(1, 220)
    if country == "US":
        return "en_US", f"{n} {_base(rng, 'en_US')} {rng.choice(US_SUFFIXES)}"
    if country == "GB":
        return "en_GB", f"{n} {_base(rng, 'en_GB')} {rng.choice(GB_SUFFIXES)}"
    if country == "DE":
        suffix = rng.choice(["straße", "str.", "weg", "platz", "allee", "gasse", "ring"])
        return "de_DE", f"{_base(rng, 'de_DE')}{suffix} {n}{rng.choice(['', '', 'a', 'b'])}"
    if country == "FR":
        kind = rng.choice(["rue", "avenue", "boulevard", "place", "rue de la", "rue du", "allée des"])
        return "fr_FR", f"{n}{rng.choice([',', ''])} {kind} {_base(rng, 'fr_FR')}"
    if country == "ES":
        return (
            "es_ES",
            f"{rng.choice(['Calle', 'Avenida de', 'Plaza', 'Paseo de'])} {_base(rng, 'es_ES')} {n}",
        )
    if country == "IT":
        return "it_IT", f"{rng.choice(['Via', 'Viale', 'Piazza', 'Corso'])} {_base(rng, 'it_IT')} {n}"
    if country == "NL":
        suffix = rng.choice(["straat", "laan", "gracht", "weg", "plein", "kade"])
        return "nl_NL", f"{_base(rng, 'nl_NL')}{suffix} {n}"
    return "pl_PL", f"ul. {_base(rng, 'pl_PL')} {n}"


def city_line(rng: random.Random, locale: str) -> str:
    city = _city(rng, locale)
    if locale == "en_US":
        return f"{city}, {rng.choice(US_STATES)} {rng.randint(10000, 99999)}"
    if locale == "en_GB":
        return f"{city} {_gb_postcode(rng)}"
    if locale == "nl_NL":
        return f"{rng.randint(1000, 9999)} {rng.choice(GB_LETTERS)}{rng.choice(GB_LETTERS)} {city}"
    if locale == "pl_PL":
        return f"{rng.randint(10, 99)}-{rng.randint(100, 999)} {city}"
    return f"{rng.randint(10000, 99999)} {city}"


ADDRESS_TEMPLATES = [
    "We moved to {v} last spring.",
    "Please ship it to {v}.",
    "My address is {v}, the flat above the shop.",
    "I live at {v} and the landlord ignores my emails.",
    "Deliver to: {v}",
    "Our office is at {v}.",
    "Write a complaint to the council about the potholes outside {v}.",
]


def address_positive(rng: random.Random) -> tuple[str, str]:
    locale, line = street_line(rng)
    value = line
    if rng.random() < 0.6:
        value = f"{line}{rng.choice([', ', chr(10)])}{city_line(rng, locale)}"
    return rng.choice(ADDRESS_TEMPLATES).format(v=value), value


ADDRESS_LOOKALIKES = [
    "I read the Wall Street Journal every morning.",
    "The Beatles recorded at Abbey Road Studios.",
    "Baker Street Capital invests in startups.",
    "Is Sesame Street still on TV?",
    "Penny Lane is my favourite song.",
    "Mulholland Drive is a confusing film.",
    "Main Street Bank raised its rates.",
    "Park Avenue Partners hired me.",
    "Highway 61 Revisited is a Dylan album.",
    "Route 66 crosses eight states.",
    "Apollo 13 almost failed.",
    "Buy the iPhone 15 Pro or wait?",
    "Print it on A4 paper in Section 3.",
    "The M2 SSD fits in slot 2.",
    "Windows 11 Home vs Pro?",
    "My PS5 Pro overheats.",
    "Chapter 12 Main Results covers it.",
    "I take vitamin B12 daily.",
    "We sold 3 Park Avenue Capital bonds.",
    "Version 2 Street Fighter was better.",
    "Sunset Boulevard opens on 12 May.",
    "The 2 Broke Girls reruns are on.",
    "Our team of 5 Oak Ridge Labs engineers.",
]


def address_negative(rng: random.Random) -> tuple[str, str]:
    return "address look-alike: street-like names, numbered products", rng.choice(ADDRESS_LOOKALIKES)


# Social handles: personal ones in context, or bare with digits; look-alikes are decorators and directives.
def handle(rng: random.Random) -> str:
    first = rng.choice(given_names()).lower()
    first = "".join(c for c in first if c in string.ascii_lowercase) or "sam"
    last = "".join(c for c in surname(rng).lower() if c in string.ascii_lowercase) or "lee"
    return "@" + rng.choice(
        [
            f"{first}_{last[:1]}{rng.randint(1, 99)}",
            f"{first}{rng.randint(1980, 2010)}",
            f"{first}_{last}",
            f"{first}.{last}",
            f"{first[:1]}{last}",
            f"the_real_{first}",
            f"{first}{last}{rng.randint(1, 9)}",
        ]
    )


HANDLE_TEMPLATES = [
    "DM me {v} if you want the file.",
    "My insta is {v}, follow me!",
    "Follow me on Twitter: {v}",
    "ping {v} on Slack about the outage",
    "IG: {v}",
    "cc {v} on the review please",
    "My TikTok handle is {v}.",
    "thanks {v} for the tip!",
    "Ask {v}, she knows the API.",
    "You can find me on Telegram at {v}",
]
HANDLE_LOOKALIKES = [
    "@dataclass\nclass Point: x: int",
    "@Override\npublic String toString()",
    "@media (max-width: 600px)",
    "npm i @types/node --save-dev",
    "@app.route('/login')",
    "@lru_cache(maxsize=None)",
    "@pytest.fixture\ndef client(): ...",
    "Please don't @everyone for this.",
    "@param name the user's name",
    "@import url('theme.css');",
    "@echo off",
    "@keyframes spin { to { rotate: 1turn } }",
    "@property\ndef area(self):",
    "Use @Input() in the Angular component.",
    "@SpringBootApplication starts it.",
    "Install @angular/core first.",
]


def handle_positive(rng: random.Random) -> tuple[str, str]:
    v = handle(rng)
    return rng.choice(HANDLE_TEMPLATES).format(v=v), v


def handle_negative(rng: random.Random) -> tuple[str, str]:
    return "handle look-alike: decorators, at-rules", rng.choice(HANDLE_LOOKALIKES)
