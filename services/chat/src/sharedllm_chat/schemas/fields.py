"""Field types shared by the request bodies, headers and paths: ids that fit a URL path and an HTTP header,
and text that is valid Unicode (a lone surrogate cannot be encoded, tokenized or stored)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$"
_ID = re.compile(ID_PATTERN)
ID_RULE = "1 to 200 characters of A-Z a-z 0-9 . _ : @ + -, starting with a letter or digit"


def check_id(value: str) -> str:
    # Anything else could not come back in the X-Conversation-Id header (non-Latin-1, CR/LF, NUL) or be
    # addressed as /v1/conversations/{id} ('/', '..').
    if not _ID.fullmatch(value):
        raise ValueError(f"must be {ID_RULE}")
    return value


def check_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ValueError(
            f"is not valid Unicode text: a lone surrogate (U+{ord(bad):04X}) at character {exc.start}"
        ) from None
    return value


ConversationId = Annotated[
    str,
    AfterValidator(check_id),
    WithJsonSchema({"type": "string", "pattern": ID_PATTERN, "minLength": 1, "maxLength": 200}),
]
Text = Annotated[str, AfterValidator(check_text)]
