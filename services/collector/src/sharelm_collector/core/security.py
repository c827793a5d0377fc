"""Bearer tokens. Tokens are 256-bit random strings, so a plain SHA-256 is enough to store them: unlike
passwords they cannot be guessed from a dictionary, and the lookup by hash stays a single index probe."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_contributor_id() -> str:
    return uuid.uuid4().hex


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def plugin_owner(user_id: str | None) -> str:
    """Idempotency scope of an anonymous plugin upload: its (hashed) plugin user id."""
    digest = hashlib.sha256((user_id or "").encode("utf-8", "surrogatepass")).hexdigest()
    return f"p:{digest}"


def contributor_owner(contributor_id: str) -> str:
    return f"c:{contributor_id}"
