"""Post-checks of the shared redaction rules: a regex finds a candidate, its check says whether it is real.

Each takes the matched text (without a kept prefix) and returns True to redact. The browser plugin has a
JavaScript copy of every one (services/plugin/src/lib/redact.js); the rules file describes them in words.
"""

from __future__ import annotations

import re
from datetime import date

_DIGIT = re.compile(r"\d")


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def luhn_digits_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_ok(value: str) -> bool:
    digits = _digits(value)
    return 13 <= len(digits) <= 19 and luhn_digits_ok(digits)


def iban_ok(value: str) -> bool:
    s = value.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s.isalnum():
        return False
    rearranged = s[4:] + s[:4]
    # Letters count as two digits (A=10 ... Z=35); the whole number mod 97 must be 1.
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


_DATE_LIKE = re.compile(r"^(?:\d{4}[-/. ]\d{1,2}[-/. ]\d{1,2}|\d{1,2}[-/. ]\d{1,2}[-/. ]\d{4})(?!\d)")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[ .]\d{3})+$")
# US social security numbers and Belgian national numbers: id layouts, never a phone's.
_ID_SHAPE = re.compile(r"^(?:\d{3}-\d{2}-\d{4}|\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2})$")


def phone_ok(value: str) -> bool:
    n = sum(c.isdigit() for c in value)
    lo, hi = (8, 15) if value.startswith("+") else (9, 12)  # E.164 allows 15 with the country code
    if not lo <= n <= hi:
        return False
    if _DATE_LIKE.match(value) or _ID_SHAPE.match(value):
        return False
    return not _THOUSANDS.match(value)


def ipv6_ok(value: str) -> bool:
    addr = value.split("%", 1)[0]
    if addr.count("::") > 1 or ":::" in addr:
        return False
    groups = [g for g in addr.split(":") if g]
    if "::" in addr:
        if not 2 <= len(groups) <= 7:
            return False
    elif len(groups) != 8 or addr.startswith(":") or addr.endswith(":"):
        return False
    if any(len(g) > 4 for g in groups):
        return False
    return any(len(g) >= 3 for g in groups)


_CODE_CHARS = set("()[]{}<>$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CODE_PREFIXES = ("os.", "env.", "process.", "self.", "config.", "settings.", "args.", "request.")


def _looks_like_code(value: str) -> bool:
    if any(c in _CODE_CHARS for c in value) or _ENV_NAME.match(value):
        return True
    return value.startswith(_CODE_PREFIXES)


def secret_ok(value: str) -> bool:
    if _looks_like_code(value):
        return False
    if _DIGIT.search(value):
        return True
    has_symbol = any(not c.isalnum() for c in value)
    mixed_case = value.lower() != value and value.upper() != value
    return len(value) >= 12 and (has_symbol or mixed_case)


# Values after "password:" that describe a field rather than hold a password (schemas, forms, docs).
_FIELD_WORDS = frozenset(
    [
        "str",
        "string",
        "int",
        "bool",
        "boolean",
        "text",
        "varchar",
        "char",
        "none",
        "null",
        "nil",
        "undefined",
        "true",
        "false",
        "required",
        "optional",
        "hidden",
        "redacted",
        "secret",
        "password",
        "passwd",
        "empty",
        "blank",
        "masked",
        "encrypted",
        "hashed",
        "type",
        "value",
        "field",
        "input",
        "example",
        "placeholder",
        "here",
        "yours",
        "mine",
    ]
)


_PW_CODE = re.compile(r"[()\[\]{}<>]|^\$|\$\{|^[A-Z][A-Z0-9_]*$")  # $ only starts code: ${VAR}, $VAR


def password_ok(value: str) -> bool:
    """After `password:` / `password=`: anything but code, a field description or a mask (****)."""
    v = value.rstrip(".")
    if len(v) < 4 or _PW_CODE.search(v) or v.startswith(_CODE_PREFIXES) or v.lower() in _FIELD_WORDS:
        return False
    if len(set(v)) == 1:  # ****, xxxx
        return False
    return bool(_DIGIT.search(v)) or any(not c.isalnum() for c in v) or v.lower() != v or len(v) >= 8


def password_said_ok(value: str) -> bool:
    """After "my password is": prose follows such phrases too, so only a value no word looks like."""
    v = value.rstrip(".")
    if not password_ok(v):
        return False
    return bool(_DIGIT.search(v)) or any(not c.isalnum() for c in v) or (v.lower() != v and v.upper() != v)


def token_ok(value: str) -> bool:
    if _DIGIT.search(value) and any(c.isalpha() for c in value):
        return True
    return len(value) >= 20 and value.lower() != value and value.upper() != value


def handle_ok(value: str) -> bool:
    """A bare @name (no context phrase): letters and a digit, like most generated or personal handles."""
    name = value[1:]
    return bool(_DIGIT.search(name)) and any(c.isalpha() for c in name) and not name.isdigit()


def ssn_ok(value: str) -> bool:
    d = _digits(value)
    if len(d) != 9:
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_ok(value: str) -> bool:
    """Spanish DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): letter = number mod 23."""
    s = value.replace("-", "").replace(" ", "").upper()
    if s[0] in "XYZ":
        s = str("XYZ".index(s[0])) + s[1:]
    return len(s) == 9 and s[:8].isdigit() and _DNI_LETTERS[int(s[:8]) % 23] == s[8]


_CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]


def codice_fiscale_ok(value: str) -> bool:
    """Italian codice fiscale: 15 characters, then a check letter from odd/even position tables."""
    s = value.upper()
    if len(s) != 16:
        return False
    total = 0
    for i, c in enumerate(s[:15]):
        n = int(c) if c.isdigit() else ord(c) - 65
        total += _CF_ODD[n] if i % 2 == 0 else n
    return chr(65 + total % 26) == s[15]


def nir_ok(value: str) -> bool:
    """French NIR (sécurité sociale): key = 97 - (13 digits mod 97); Corsica 2A/2B count as 19/18."""
    s = value.replace(" ", "").upper()
    if len(s) != 15:
        return False
    body = s[:5] + {"2A": "19", "2B": "18"}.get(s[5:7], s[5:7]) + s[7:13]
    if not body.isdigit() or not s[13:].isdigit():
        return False
    return 97 - int(body) % 97 == int(s[13:])


def steuer_id_ok(value: str) -> bool:
    """German tax id (Steuer-IdNr): 11 digits, no leading 0, ISO 7064 MOD 11,10 check digit."""
    d = _digits(value)
    if len(d) != 11 or d[0] == "0":
        return False
    product = 10
    for c in d[:10]:
        total = (int(c) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10 == int(d[10])


def bsn_ok(value: str) -> bool:
    """Dutch BSN: 9 digits passing the 11-test (weights 9..2, and -1 for the last)."""
    d = _digits(value)
    if len(d) != 9:
        return False
    total = sum(int(c) * w for c, w in zip(d[:8], range(9, 1, -1), strict=True)) - int(d[8])
    return total % 11 == 0 and int(d) != 0


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def pesel_ok(value: str) -> bool:
    """Polish PESEL: 11 digits, a birth date (century in the month), weights 1-3-7-9 check digit."""
    d = _digits(value)
    if len(d) != 11:
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    if (10 - sum(int(c) * w for c, w in zip(d, weights, strict=False)) % 10) % 10 != int(d[10]):
        return False
    month, century = int(d[2:4]) % 20, {0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800}.get(int(d[2:4]) // 20)
    return century is not None and _valid_date(century + int(d[:2]), month, int(d[4:6]))


def personnummer_ok(value: str) -> bool:
    """Swedish personnummer (YYMMDD-NNNC, optional century): a date, Luhn over the last 10 digits."""
    d = _digits(value)
    if len(d) not in (10, 12):
        return False
    d = d[-10:]
    day = int(d[4:6]) % 60  # samordningsnummer add 60 to the day
    return _valid_date(2000, int(d[2:4]), day) and luhn_digits_ok(d)


def be_nrn_ok(value: str) -> bool:
    """Belgian national number YY.MM.DD-XXX.CC: CC = 97 - (9 digits mod 97), or with a 2 prefix (2000s)."""
    d = _digits(value)
    if len(d) != 11:
        return False
    check = int(d[9:])
    return check in (97 - int(d[:9]) % 97, 97 - int("2" + d[:9]) % 97)


_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def hetu_ok(value: str) -> bool:
    """Finnish henkilötunnus DDMMYY-NNNC: a date, C = the 9 digits mod 31 in the check alphabet."""
    s = value.upper()
    if len(s) != 11 or not (s[:6] + s[7:10]).isdigit():
        return False
    if not _valid_date(2000, int(s[2:4]), int(s[:2])):  # 2000 is a leap year: any real day passes
        return False
    return _HETU_CHECK[int(s[:6] + s[7:10]) % 31] == s[10]


CHECKS = {
    "luhn": luhn_ok,
    "iban": iban_ok,
    "phone": phone_ok,
    "ipv6": ipv6_ok,
    "secret": secret_ok,
    "password": password_ok,
    "password_said": password_said_ok,
    "token": token_ok,
    "handle": handle_ok,
    "ssn": ssn_ok,
    "dni": dni_ok,
    "codice_fiscale": codice_fiscale_ok,
    "nir": nir_ok,
    "steuer_id": steuer_id_ok,
    "bsn": bsn_ok,
    "pesel": pesel_ok,
    "personnummer": personnummer_ok,
    "be_nrn": be_nrn_ok,
    "hetu": hetu_ok,
}
