"""What happens to a conversation between the request and the database: it is checked, redacted with
`sharelm.redact` (raw PII never reaches the database) and serialised once, as it will be exported."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from sharelm import Conversation
from sharelm.redact import redact_conversation
from sharelm.sources.plugin import PluginUpload, from_upload
from sharelm_collector.core import metrics

MAX_ID_CHARS = 256


class InvalidContribution(ValueError):
    """A contribution that passed the schema but cannot be stored; `loc` names the field."""

    def __init__(self, loc: tuple[str | int, ...], msg: str):
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


def check_conversation_id(value: str, loc: tuple[str | int, ...] = ("body", "conversation_id")) -> str:
    if len(value) > MAX_ID_CHARS:
        raise InvalidContribution(loc, f"conversation_id has {len(value)} characters, over {MAX_ID_CHARS}")
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise InvalidContribution(loc, "conversation_id contains control characters or lone surrogates")
    return value


def source_label(source: str | None) -> str | None:
    """The `source` column (for operators' queries; the document keeps the full value): printable, short."""
    if source is None:
        return None
    return "".join(ch for ch in source if ch.isprintable())[:64] or None


def redact(conv: Conversation) -> Conversation:
    redacted, counts = redact_conversation(conv)
    for kind, n in counts.items():
        if n:
            metrics.REDACTIONS.labels(kind).inc(n)
    return redacted


def serialise(conv: Conversation) -> str:
    try:
        return conv.model_dump_json()
    except PydanticSerializationError as exc:  # e.g. lone surrogates: not encodable as UTF-8
        raise InvalidContribution(("body",), f"text is not valid Unicode: {exc}") from None


def redacted(conv: Conversation) -> Conversation:
    """Checked and redacted: CPU work done before the request touches the database (short transactions)."""
    check_conversation_id(conv.conversation_id)
    return redact(conv)


def document(conv: Conversation, *, user_id: str | None = None) -> tuple[Conversation, str]:
    """The conversation as stored, and its JSON. `user_id` (the authenticated contributor) overrides
    whatever the client claimed."""
    if user_id is not None:
        conv = conv.model_copy(update={"user_id": user_id})
    return conv, serialise(conv)


def from_plugin(upload: PluginUpload) -> Conversation:
    try:
        return from_upload(upload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidContribution(("body", *first["loc"]), first["msg"]) from None
    except ValueError as exc:
        raise InvalidContribution(("body",), str(exc)) from None
