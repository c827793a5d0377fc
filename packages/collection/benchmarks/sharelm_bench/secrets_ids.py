"""Secrets (JWTs, passwords, private keys, cloud and chat tokens), national ids with valid checksums and
dates of birth for the labelled set, and look-alikes of each (invalid checksums, code, field names)."""

from __future__ import annotations

import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits


def _r(rng: random.Random, n: int, chars: str = ALNUM) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng: random.Random) -> str:
    header = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {
        "sub": str(rng.randint(10**6, 10**9)),
        "name": "x",
        "iat": rng.randint(1_600_000_000, 1_800_000_000),
    }
    sig = bytes(rng.randrange(256) for _ in range(rng.choice([32, 64])))
    return ".".join(
        [_b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode()), _b64url(sig)]
    )


JWT_TEMPLATES = [
    "Why is this token rejected? {v}",
    "Authorization: Bearer {v}",
    "jwt={v}",
    "Decode this for me: {v}",
    'localStorage.setItem("token", "{v}")',
]


def password(rng: random.Random) -> str:
    words = [
        "sunshine",
        "dragon",
        "tiger",
        "Summer",
        "monkey",
        "Winter",
        "purple",
        "horse",
        "castle",
        "Falcon",
    ]
    return rng.choice(
        [
            f"{rng.choice(words)}{rng.randint(1, 9999)}{rng.choice('!@#$%&*?')}",
            _r(rng, rng.randint(10, 20), ALNUM + "!@#%^&*-_"),
            f"{rng.choice(words).capitalize()}{rng.choice('_.-')}{rng.choice(words)}{rng.randint(10, 99)}",
            f"{rng.choice(words)}-{rng.choice(words)}-{rng.choice(words)}-{rng.choice(words)}",
            f"Tr0ub4dor&{rng.randint(1, 9)}",
        ]
    )


PASSWORD_TEMPLATES = [
    "password: {v}",
    "my password is {v} but it says invalid",
    "PASSWORD={v}",
    "pwd = '{v}'",
    'db_password: "{v}"',
    "psql postgres://admin:{v}@10.0.0.5/prod fails",
    "The wifi password is {v}",
    "login: admin\npassword: {v}",
    "Passwort: {v}",
]
PASSWORD_LOOKALIKES = [
    "password: ********",
    "password = getpass()",
    "password: str",
    "Password is required.",
    "The password is incorrect, try again.",
    "password=None",
    "password: <your password>",
    "PASSWORD=${DB_PASSWORD}",
    "Password must be at least 8 characters.",
    "Reset your password: click the link below.",
    "password: string (required)",
    "if password == confirm_password:",
    "the password field is empty",
]


def private_key(rng: random.Random) -> str:
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "", "PGP "])
    block = " BLOCK" if kind == "PGP " else ""
    lines = [_r(rng, 64, ALNUM + "+/") for _ in range(rng.randint(2, 6))] + [_r(rng, 20, ALNUM + "+/") + "=="]
    head = f"-----BEGIN {kind}PRIVATE KEY{block}-----"
    if rng.random() < 0.2:  # pasted only in part: no END line
        return head + "\n" + "\n".join(lines[:2])
    return "\n".join([head, *lines, f"-----END {kind}PRIVATE KEY{block}-----"])


KEY_TEMPLATES = [
    "ssh keeps refusing this key:\n{v}\nwhat is wrong?",
    "my deploy key is\n{v}",
    '"private_key": "{v}"',
]


def cloud_token(rng: random.Random) -> str:
    hexd = "0123456789abcdef"
    return rng.choice(
        [
            f"https://hooks.slack.com/services/T{_r(rng, 8, string.ascii_uppercase + string.digits)}/B{_r(rng, 8, string.ascii_uppercase + string.digits)}/{_r(rng, 24)}",  # noqa: E501
            f"https://discord.com/api/webhooks/{rng.randint(10**17, 10**18)}/{_r(rng, 68, ALNUM + '_-')}",
            f"{rng.randint(10**8, 10**9)}:AA{_r(rng, 33, ALNUM + '_-')}",
            f"M{_r(rng, 25, ALNUM)}.{_r(rng, 6, ALNUM + '_-')}.{_r(rng, 38, ALNUM + '_-')}",
            f"SG.{_r(rng, 22, ALNUM + '_-')}.{_r(rng, 43, ALNUM + '_-')}",
            f"npm_{_r(rng, 36)}",
            f"pypi-AgEIcHlwaS5vcmc{_r(rng, 60, ALNUM + '_-')}",
            f"SK{_r(rng, 32, hexd)}",
            f"ya29.{_r(rng, 60, ALNUM + '_-')}",
            f"rk_live_{_r(rng, 24)}",
            f"dop_v1_{_r(rng, 64, hexd)}",
            f"ASIA{_r(rng, 16, string.ascii_uppercase + string.digits)}",
            f"gsk_{_r(rng, 52)}",
            f"xapp-1-A{_r(rng, 10, string.ascii_uppercase + string.digits)}-{rng.randint(10**12, 10**13)}-{_r(rng, 64, hexd)}",  # noqa: E501
        ]
    )


TOKEN_TEMPLATES = [
    "Here is my token {v}, why 401?",
    "export TOKEN={v}",
    "the bot uses {v} and stopped working",
    "webhook: {v}",
]
TOKEN_LOOKALIKES = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 broke it",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
    "Set SLACK_BOT_TOKEN in the environment.",
    "use sk-learn? no, scikit-learn",
    "eyJ is how base64 JSON starts",
    "token = os.environ['DISCORD_TOKEN']",
    "the hooks.slack.com/services URL goes in config",
]


# National ids with their real check digits.
def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    raw = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    sep = rng.choice(["-", "-", " "])
    return f"{raw[:3]}{sep}{raw[3:5]}{sep}{raw[5:]}"


SSN_TEMPLATES = [
    "My SSN is {v}, is it safe to put on the form?",
    "SSN: {v}",
    "social security number {v}",
    "the W-2 shows {v} as my social",
]


def _dni(rng: random.Random) -> str:
    if rng.random() < 0.3:
        prefix = rng.choice("XYZ")
        n = rng.randint(0, 9999999)
        return f"{prefix}{n:07d}{'TRWAGMYFPDXBNJZSQVHLCKE'[int(str('XYZ'.index(prefix)) + f'{n:07d}') % 23]}"
    n = rng.randint(10**7, 10**8 - 1)
    return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


_CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]


def _cf(rng: random.Random) -> str:
    up = string.ascii_uppercase
    body = (
        _r(rng, 6, up)
        + f"{rng.randint(0, 99):02d}"
        + rng.choice("ABCDEHLMPRST")
        + f"{rng.randint(1, 71):02d}"
        + rng.choice(up)
        + f"{rng.randint(0, 999):03d}"
    )
    total = sum(
        _CF_ODD[int(c) if c.isdigit() else ord(c) - 65]
        if i % 2 == 0
        else (int(c) if c.isdigit() else ord(c) - 65)
        for i, c in enumerate(body)
    )
    return body + chr(65 + total % 26)


def _nir(rng: random.Random) -> str:
    body = f"{rng.randint(1, 2)}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"  # noqa: E501
    key = 97 - int(body) % 97
    s = f"{body}{key:02d}"
    return f"{s[0]} {s[1:3]} {s[3:5]} {s[5:7]} {s[7:10]} {s[10:13]} {s[13:]}" if rng.random() < 0.5 else s


def _nino(rng: random.Random) -> str:
    first, second = rng.choice("ABCEGHJKLMNOPRSTWXYZ"), rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        first = "A"
    d = f"{rng.randint(0, 999999):06d}"
    sep = rng.choice(["", " "])
    return sep.join([first + second, d[:2], d[2:4], d[4:], rng.choice("ABCD")])


def _steuer_id(rng: random.Random) -> str:
    while True:
        body = str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(9))
        product = 10
        for c in body:
            total = (int(c) + product) % 10 or 10
            product = total * 2 % 11
        return body + str((11 - product) % 10)


def _bsn(rng: random.Random) -> str:
    while True:
        d = [rng.randint(0, 9) for _ in range(8)]
        total = sum(x * w for x, w in zip(d, range(9, 1, -1), strict=True))
        last = total % 11
        if last <= 9:
            return "".join(map(str, d)) + str(last)


def _pesel(rng: random.Random) -> str:
    year, month, day = rng.randint(1950, 2010), rng.randint(1, 12), rng.randint(1, 28)
    mm = month + (20 if year >= 2000 else 0)
    body = f"{year % 100:02d}{mm:02d}{day:02d}{rng.randint(0, 9999):04d}"
    w = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    return body + str((10 - sum(int(c) * x for c, x in zip(body, w, strict=True)) % 10) % 10)


def _personnummer(rng: random.Random) -> str:
    body = (
        f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    check = next(c for c in string.digits if _luhn10(body + c))
    return f"{body[:6]}-{body[6:]}{check}"


def _luhn10(d: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(d)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _be(rng: random.Random) -> str:
    body = (
        f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(1, 997):03d}"
    )
    c = 97 - int(body) % 97
    return f"{body[:2]}.{body[2:4]}.{body[4:6]}-{body[6:]}.{c:02d}"


def _hetu(rng: random.Random) -> str:
    dd, mm, yy, n = rng.randint(1, 28), rng.randint(1, 12), rng.randint(0, 99), rng.randint(2, 899)
    digits = f"{dd:02d}{mm:02d}{yy:02d}{n:03d}"
    return f"{digits[:6]}{rng.choice('-A')}{n:03d}{'0123456789ABCDEFHJKLMNPRSTUVWXY'[int(digits) % 31]}"


NATIONAL_IDS = {  # generator, how people write it
    "ES DNI/NIE": (_dni, ["Mi DNI es {v}.", "NIE: {v}", "DNI {v} para la reserva"]),
    "IT codice fiscale": (_cf, ["Il mio codice fiscale è {v}.", "CF: {v}"]),
    "FR NIR": (_nir, ["Mon numéro de sécurité sociale est {v}.", "NIR : {v}"]),
    "UK NINO": (_nino, ["My NI number is {v}.", "National Insurance: {v}"]),
    "DE Steuer-ID": (_steuer_id, ["Meine Steuer-ID ist {v}.", "Steuer-IdNr: {v}"]),
    "NL BSN": (_bsn, ["Mijn BSN is {v}.", "BSN: {v}"]),
    "PL PESEL": (_pesel, ["Mój PESEL to {v}.", "PESEL: {v}"]),
    "SE personnummer": (_personnummer, ["Mitt personnummer är {v}.", "personnummer {v}"]),
    "BE rijksregisternummer": (_be, ["Mijn rijksregisternummer is {v}.", "numéro national {v}"]),
    "FI HETU": (_hetu, ["Henkilötunnukseni on {v}.", "HETU: {v}"]),
}


def national_id_positive(rng: random.Random) -> tuple[str, str]:
    gen, templates = NATIONAL_IDS[rng.choice(sorted(NATIONAL_IDS))]
    v = gen(rng)
    return rng.choice(templates).format(v=v), v


def _break_last(v: str, rng: random.Random) -> str:
    last = v[-1]
    pool = string.digits if last.isdigit() else string.ascii_uppercase
    return v[:-1] + rng.choice([c for c in pool if c != last])


ID_LOOKALIKE_TEMPLATES = ["Order reference {v} shipped.", "Is {v} a valid format?", "Ticket {v} is closed."]


def national_id_negative(rng: random.Random) -> tuple[str, str]:
    """A valid-shaped id whose check digit is wrong (UK NINO has none: a product code in its place)."""
    kind = rng.choice(
        sorted(k for k in NATIONAL_IDS if k not in ("UK NINO", "DE Steuer-ID", "NL BSN", "PL PESEL"))
    )
    v = _break_last(NATIONAL_IDS[kind][0](rng), rng)
    return "national id look-alike: wrong check digit", rng.choice(ID_LOOKALIKE_TEMPLATES).format(v=v)


def ssn_negative(rng: random.Random) -> tuple[str, str]:
    v = rng.choice(
        [
            f"000-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            f"666-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            f"9{rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            f"ISBN 0-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}",
            f"part {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(100, 999)}",
        ]
    )
    return "ssn look-alike: invalid areas, ISBN, part numbers", rng.choice(ID_LOOKALIKE_TEMPLATES).format(v=v)


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def birth_date(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        [
            f"{d:02d}/{m:02d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d} {MONTHS[m - 1]} {y}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{d}th of {MONTHS[m - 1]} {y}",
        ]
    )


DOB_TEMPLATES = [
    "I was born on {v} in a small town.",
    "DOB: {v}",
    "date of birth {v}, is that on the form?",
    "My birthday is {v}.",
    "Geburtsdatum: {v}",
    "né le {v} à Lyon",
    "Born {v}, so I'm eligible?",
    "fecha de nacimiento: {v}",
]
DOB_LOOKALIKES = [
    "The film was released on 12 March 2024.",
    "Deadline: 03/04/2025",
    "I was born in 1987.",
    "Happy birthday! The party is on 12 May.",
    "The birthday paradox needs 23 people.",
    "Born to Run came out in 1975.",
    "The invoice dated 2024-01-15 is unpaid.",
    "Meeting on 4 July 2025 at noon.",
    "Python 3.12 was released on October 2, 2023.",
]
