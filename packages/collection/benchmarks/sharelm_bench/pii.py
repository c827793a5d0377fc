"""Random but valid PII values (checksums included) and look-alikes that are not PII.

Used by the labelled PII evaluation and to sprinkle PII into generated benchmark conversations.
"""

from __future__ import annotations

import random
import string


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def group(s: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(s[i : i + n])
        i += n
    if i < len(s):
        out.append(s[i:])
    return sep.join(p for p in out if p)


def credit_card(rng: random.Random) -> str:
    brand = rng.choice(["visa", "mc", "amex", "discover"])
    if brand == "amex":
        num = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        return group(num, [4, 6, 5], rng.choice([" ", "-", ""]))
    prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "discover": "6011"}[brand]
    num = luhn_complete(prefix, 16, rng)
    return group(num, [4, 4, 4, 4], rng.choice([" ", "-", ""]))


def iban_check_digits(country: str, bban: str) -> str:
    number = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(number) % 97:02d}"


IBAN_LAYOUTS = {"DE": "n18", "GB": "a4n14", "FR": "n23", "NL": "a4n10", "ES": "n20", "IT": "a1n22"}


def iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_LAYOUTS))
    bban = ""
    layout = IBAN_LAYOUTS[country]  # "a4n14": 4 letters then 14 digits
    if layout.startswith("a"):
        n_alpha, n_digit = int(layout[1]), int(layout.split("n")[1])
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(n_alpha))
    else:
        n_digit = int(layout[1:])
    bban += "".join(rng.choice(string.digits) for _ in range(n_digit))
    check = iban_check_digits(country, bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 50)) % 97 + 2:02d}"
    raw = country + check + bban
    return group(raw, [4] * 9, " ") if rng.random() < 0.6 else raw


def email(rng: random.Random) -> str:
    first = rng.choice(["john", "maria", "li.wei", "a.kumar", "sophie", "o_brien", "jp"])
    last = rng.choice(["smith", "garcia", "chen", "mueller", "dubois", "nguyen", ""])
    user = f"{first}{'.' + last if last else ''}{rng.choice(['', str(rng.randint(1, 99))])}"
    domain = rng.choice(["gmail.com", "example.org", "mail.co.uk", "uni-heidelberg.de", "company.io"])
    return f"{user}@{domain}"


def phone(rng: random.Random) -> str:
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    return rng.choice(
        [
            f"+1 ({rng.randint(201, 989)}) {d(3)}-{d(4)}",
            f"{rng.randint(201, 989)}-{d(3)}-{d(4)}",
            f"({rng.randint(201, 989)}) {d(3)}-{d(4)}",
            f"+44 20 {d(4)} {d(4)}",
            f"+44 7{d(3)} {d(6)}",
            f"+49 30 {d(7)}",
            f"+33 {rng.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+91 {d(5)} {d(5)}",
            f"+1{rng.randint(201, 989)}{d(7)}",
            f"020 {d(4)} {d(4)}",
            f"+61 2 {d(4)} {d(4)}",
        ]
    )


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return ":".join(groups)
    return f"2001:db8:{groups[2]}::{groups[6]}:{groups[7]}"


def mac(rng: random.Random) -> str:
    parts = [f"{rng.randint(0, 255):02x}" for _ in range(6)]
    s = rng.choice([":", "-"]).join(parts)
    return s.upper() if rng.random() < 0.5 else s


def api_key(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    r = lambda n, chars=alnum: "".join(rng.choice(chars) for _ in range(n))  # noqa: E731
    return rng.choice(
        [
            f"sk-proj-{r(40)}",
            f"sk-{r(48)}",
            f"ghp_{r(36)}",
            f"AKIA{r(16, string.ascii_uppercase + string.digits)}",
            f"AIza{r(35)}",
            f"xoxb-{r(12, string.digits)}-{r(24)}",
            f"hf_{r(34)}",
        ]
    )


def bearer_token(rng: random.Random) -> str:
    return "".join(
        rng.choice(string.ascii_letters + string.digits + "-_.") for _ in range(rng.randint(24, 48))
    )


def url_query(rng: random.Random) -> str:
    return rng.choice(
        [
            f"?session_id={rng.randint(10**8, 10**9)}&user=joe",
            f"?q=my+medical+results&uid={rng.randint(1000, 9999)}",
            f"?token={rng.randint(10**5, 10**6)}abc#inbox",
            f"#access_token=ya29.{rng.randint(10**6, 10**7)}",
        ]
    )


# type -> (value generator, sentence templates with {v}); the value is what must disappear.
POSITIVES = {
    "email": (email, ["Please write to {v} if anything changes.", "My email is {v}", "cc: {v}, thanks"]),
    "phone": (phone, ["Call me on {v} tomorrow.", "My number is {v}.", "Tel: {v}"]),
    "ipv4": (
        ipv4,
        ["The server at {v} keeps timing out.", "ssh root@{v} fails", "allow {v} in the firewall"],
    ),
    "ipv6": (ipv6, ["Its address is {v} on eth0.", "ping6 {v} works"]),
    "mac_address": (mac, ["The laptop's MAC is {v}.", "whitelist device {v}"]),
    "credit_card": (credit_card, ["Charge my card {v} please.", "card number: {v}, exp 04/27"]),
    "iban": (iban, ["Transfer it to {v} by Friday.", "IBAN: {v}"]),
    "api_key": (api_key, ["Here is my key {v}, why does it fail?", 'client = OpenAI(api_key="{v}")']),
    "bearer_token": (bearer_token, ["curl -H 'Authorization: Bearer {v}' https://api.example.com"]),
    "url_query": (url_query, ["I opened https://portal.example.com/results{v} and saw an error."]),
}
# The types the public ShareLM backend's anonymizer covers (email, phone, MAC, IPv4, IPv6, card, IBAN).
BASELINE_TYPES = ("email", "phone", "ipv4", "ipv6", "mac_address", "credit_card", "iban")


def _invalid_card(rng: random.Random) -> str:
    num = credit_card(rng).replace(" ", "").replace("-", "")
    last = str((int(num[-1]) + rng.randint(1, 9)) % 10)
    return group(num[:-1] + last, [4, 4, 4, 4], " ")


def _version(r: random.Random) -> str:
    return r.choice(
        [
            "Python 3.11.4",
            "v2.0.1",
            "release 10.4.2-beta",
            "v1.2.3.4",
            "Windows 10.0.19045",
            "numpy 1.26.4",
            "CUDA 12.1.105",
        ]
    )


def _order_id(r: random.Random) -> str:
    return r.choice(
        [
            f"ORD-2024-{r.randint(100000, 999999)}",
            f"order #{r.randint(10**6, 10**7)}",
            f"ticket JIRA-{r.randint(100, 9999)}",
            f"invoice INV/{r.randint(2019, 2025)}/00{r.randint(10, 99)}",
        ]
    )


def _timestamp(r: random.Random) -> str:
    return r.choice(
        [
            f"2024-0{r.randint(1, 9)}-1{r.randint(0, 9)} 10:{r.randint(10, 59)}:00",
            f"2023-11-2{r.randint(0, 9)}T08:15:3{r.randint(0, 9)}Z",
            "15.01.2024 10:30",
            f"{r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)}",
            "01/15/2024",
        ]
    )


def _number(r: random.Random) -> str:
    return r.choice(
        [
            f"${r.randint(1, 999)},{r.randint(100, 999)},{r.randint(100, 999)}.99",
            "1 234 567",
            f"{r.randint(10**5, 10**6)} tokens",
            "3.14159 * 2.71828",
            "48.8566, 2.3522",
        ]
    )


def _code_id(r: random.Random) -> str:
    return r.choice(
        [
            "ISBN 978-3-16-148410-0",
            "commit 3f2a9c1",
            "#ff00aa",
            "UPS 1Z999AA10123456784",
            "123e4567-e89b-12d3-a456-426614174000",
        ]
    )


def _code(r: random.Random) -> str:
    return r.choice(
        [
            "std::vector<int>",
            "api_key = os.environ['OPENAI_API_KEY']",
            "localhost:8080",
            "token classification",
            "@dataclass",
            "password = getpass()",
            "a::b::c",
        ]
    )


# category -> generator of a look-alike string (embedded in a neutral sentence); it must survive.
NEGATIVES = {
    "version number": _version,
    "order id": _order_id,
    "timestamp": _timestamp,
    "invalid card (Luhn)": _invalid_card,
    "invalid IBAN (checksum)": lambda r: iban(r, valid=False),
    "number / price": _number,
    "isbn / code": _code_id,
    "code look-alike": _code,
}
NEGATIVE_TEMPLATES = ["As I said, {v} is what I see.", "Note: {v}", "We compared {v} against the old one."]


def random_pii(rng: random.Random) -> tuple[str, str]:
    """(type, sentence containing one PII value) for benchmark data."""
    kind = rng.choice(sorted(POSITIVES))
    gen, templates = POSITIVES[kind]
    return kind, rng.choice(templates).format(v=gen(rng))
