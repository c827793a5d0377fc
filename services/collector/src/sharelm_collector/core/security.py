"""Bearer tokens, idempotency owners, and the keyed transforms that keep stored keys out of what readers see.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to store them: unlike passwords they cannot be
guessed from a dictionary, and the lookup by hash stays a single index probe.

The service key (one random secret per database, created by migration 0002, read by `core.keys`) drives two
transforms that readers of the API or of an export cannot invert or forge:
- `plugin_pseudonym`: the `user_id` an anonymous plugin upload is stored and exported under (a keyed hash
  of the plugin's user id, stable per plugin user, never the id itself: knowing it gives no way to post
  under that user);
- `encode_cursor` / `decode_cursor`: list cursors, a keyed permutation of the row id (a cursor tells a
  contributor nothing about how many rows the collection holds).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import uuid


def new_contributor_id() -> str:
    return uuid.uuid4().hex


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_service_key() -> str:
    return secrets.token_hex(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def plugin_user_id(user_id: str | None) -> str | None:
    """The plugin user id as the owner key sees it: None when it is missing or blank."""
    if user_id is None or not user_id.strip():
        return None
    return user_id


def plugin_owner(user_id: str | None) -> str:
    """Idempotency scope of an anonymous plugin upload: its (hashed) plugin user id. An upload without a
    user id (null, empty or blank) gets a scope of its own, so that it never matches another upload."""
    user_id = plugin_user_id(user_id)
    if user_id is None:
        return f"p:anon:{uuid.uuid4().hex}"
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"p:{digest}"


def contributor_owner(contributor_id: str) -> str:
    return f"c:{contributor_id}"


def _subkey(key: bytes, purpose: str) -> bytes:
    return hmac.digest(key, purpose.encode(), "sha256")


PSEUDONYM_PREFIX = "plugin-"


def plugin_pseudonym(key: bytes, user_id: str | None) -> str | None:
    """What an anonymous plugin upload's `user_id` is stored (and exported) as."""
    user_id = plugin_user_id(user_id)
    if user_id is None:
        return None
    mac = hmac.new(_subkey(key, "plugin-user-id"), user_id.encode("utf-8", "surrogatepass"), "sha256")
    return PSEUDONYM_PREFIX + mac.hexdigest()[:32]


# --- cursors: a 64-bit Feistel permutation keyed per owner (4 rounds of HMAC-SHA256: a strong PRP) -------

_CURSOR = re.compile(r"[A-Za-z0-9_-]{11}")  # explicit ASCII ranges: no Unicode digits or letters
_MASK32 = 0xFFFFFFFF
_ROUNDS = 4
MAX_ROW_ID = 2**62  # no row id reaches it; a decoded cursor above it was not issued here


def _round(key: bytes, owner: str, i: int, half: int) -> int:
    return int.from_bytes(hmac.digest(key, f"{owner}|{i}|{half}".encode(), "sha256")[:4], "big")


def encode_cursor(key: bytes, owner: str, row_id: int) -> str:
    k = _subkey(key, "cursor")
    left, right = row_id >> 32 & _MASK32, row_id & _MASK32
    for i in range(_ROUNDS):
        left, right = right, left ^ _round(k, owner, i, right)
    raw = (left << 32 | right).to_bytes(8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(key: bytes, owner: str, cursor: str) -> int | None:
    """The row id behind a cursor, or None when it is not one this service could have issued."""
    if not _CURSOR.fullmatch(cursor):
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 8:
        return None
    k = _subkey(key, "cursor")
    value = int.from_bytes(raw, "big")
    left, right = value >> 32, value & _MASK32
    for i in reversed(range(_ROUNDS)):
        left, right = right ^ _round(k, owner, i, left), left
    row_id = left << 32 | right
    return row_id if row_id <= MAX_ROW_ID else None
