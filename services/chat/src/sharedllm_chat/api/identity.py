"""Who is calling: per-user API keys (operator-configured, key -> user) or nobody in particular.

`SHAREDLLM_CHAT_API_KEYS` (JSON, {"<key>": "<user>"}) and/or `SHAREDLLM_CHAT_API_KEYS_FILE` (one
`<user> <key>` per line; lines starting with `#` are comments) give each user a key, as the OpenAI API
does per project: a caller with one owns the conversations it starts. The shared `SHAREDLLM_CHAT_API_KEY`
and an open server identify nobody, so their conversations are bound by a per-conversation secret instead
(see crud/conversations.py). Only SHA-256 digests of the per-user keys are kept in memory.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sharedllm_chat.schemas.fields import ID_RULE, check_id
from sharedllm_chat.settings import Settings

MIN_KEY_CHARS = 16


@dataclass(frozen=True)
class Caller:
    user: str | None  # None: no per-user key (open server or the shared API key)

    @property
    def owner(self) -> str:
        return f"user:{self.user}" if self.user else "anonymous"


ANONYMOUS = Caller(None)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    def __init__(self, users_by_digest: dict[bytes, str], shared_key: str | None) -> None:
        self._users = users_by_digest
        self._shared = shared_key

    @property
    def required(self) -> bool:
        return bool(self._users) or self._shared is not None

    def caller(self, token: str | None) -> Caller | None:
        """The caller a bearer token stands for; None when keys are required and this is none of them."""
        if not self.required:
            return ANONYMOUS
        if token is None:
            return None
        user = self._users.get(_digest(token))
        if user is not None:
            return Caller(user)
        if self._shared is not None and secrets.compare_digest(token.encode(), self._shared.encode()):
            return ANONYMOUS
        return None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Raises ValueError naming the setting (and line) when a key or user name is unusable."""
        pairs = [(key, user, "api_keys") for key, user in settings.api_keys.items()]
        if settings.api_keys_file is not None:
            pairs += _read_keys_file(settings.api_keys_file)
        users: dict[bytes, str] = {}
        for key, user, where in pairs:
            try:
                check_id(user)
            except ValueError:
                raise ValueError(f"{where}: user name {user!r} must be {ID_RULE}") from None
            if len(key) < MIN_KEY_CHARS or any(ch.isspace() for ch in key):
                raise ValueError(
                    f"{where}: the key of {user!r} must be {MIN_KEY_CHARS}+ characters, no spaces"
                )
            if users.setdefault(_digest(key), user) != user:
                raise ValueError(
                    f"{where}: one key is given to two users ({users[_digest(key)]!r}, {user!r})"
                )
        shared = settings.api_key.get_secret_value() if settings.api_key is not None else None
        return cls(users, shared)


def _read_keys_file(path: Path) -> list[tuple[str, str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"api_keys_file: cannot read {path}: {exc}") from None
    pairs = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"api_keys_file {path}, line {number}: expected '<user> <key>'")
        pairs.append((fields[1], fields[0], f"api_keys_file {path}, line {number}"))
    return pairs
