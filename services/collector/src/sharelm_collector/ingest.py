"""What happens to a conversation between the request and the database: it is checked, redacted with
`sharelm.redact` (raw PII never reaches the database), serialised once, as it will be exported, and that
JSON is validated again with `sharelm.Conversation` and its caps, so that no stored row can fail the schema
(a placeholder is longer than the text it replaces: a message at the length cap may not fit after it)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationError
from pydantic_core import PydanticSerializationError

from sharelm import Conversation
from sharelm.redact import redact_conversation, redact_text
from sharelm.schema import DEFAULT_MAX_MESSAGES
from sharelm.sources.plugin import PluginUpload, from_upload
from sharelm_collector.core import metrics

MAX_ID_CHARS = 256
# Validation context that lifts the schema's caps: for reading back rows stored under larger caps.
NO_CAPS = {"max_content_chars": 2**62, "max_messages": 2**62}
# The same rule as check_conversation_id, for the OpenAPI document (path parameters): no control character,
# '/' or '\\', and not '.' or '..' (spelt without look-ahead, which pydantic's regex engine lacks).
_C, _D = r"[^\x00-\x1f\x7f/\\]", r"[^\x00-\x1f\x7f/\\.]"
ID_PATTERN = rf"^(?:{_D}{_C}*|\.{_D}{_C}*|\.\.{_C}+)$"
# Characters no conversation id may hold: '/' and '\' (a path segment could not carry them: clients and
# servers split or normalise them, so the id could be stored but never read, rated or deleted again).
_UNADDRESSABLE = frozenset("/\\")


class InvalidContribution(ValueError):
    """A contribution that passed the schema but cannot be stored; `loc` names the field."""

    def __init__(self, loc: tuple[str | int, ...], msg: str):
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


class OverCap(Exception):  # noqa: N818 (not a ValueError on purpose: pydantic passes it through unwrapped)
    """A count over its cap, found before the body is validated in full (413)."""

    def __init__(self, loc: tuple[str | int, ...], msg: str):
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


class NotAnExtension(Exception):  # noqa: N818
    """An anonymous re-post that changes what was stored instead of extending it (409)."""


def check_conversation_id(value: str, loc: tuple[str | int, ...] = ("body", "conversation_id")) -> str:
    """Every id that can be stored is addressable in a URL path: at most 256 characters, no control
    characters, lone surrogates, '/' or '\\', and not a dot segment ('.' or '..')."""
    if len(value) > MAX_ID_CHARS:
        raise InvalidContribution(loc, f"conversation_id has {len(value)} characters, over {MAX_ID_CHARS}")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise InvalidContribution(loc, "conversation_id contains control characters or lone surrogates")
    if not _UNADDRESSABLE.isdisjoint(value) or value in (".", ".."):
        raise InvalidContribution(loc, "conversation_id must not contain '/' or '\\' nor be '.' or '..' "
                                  "(it could not be addressed in a URL)")
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


def storable(document: str, loc: tuple[str | int, ...] = ("body",)) -> str:
    """`document` if it validates as `sharelm.Conversation` with every cap, as it will be read back and
    exported; else an InvalidContribution naming the field (413 for a cap)."""
    try:
        Conversation.model_validate_json(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        msg = first["msg"].removeprefix("Value error, ")
        if "over the cap" in msg:
            msg += " once redacted (a placeholder can be longer than the text it replaces)"
        raise InvalidContribution((*loc, *first["loc"]), msg) from None
    return document


_KEEP: Any = object()


def document(conv: Conversation, *, user_id: str | None = _KEEP,
             loc: tuple[str | int, ...] = ("body",)) -> tuple[Conversation, str]:
    """The conversation as stored, and its JSON (checked to validate as it will be read back). `user_id`
    (the authenticated contributor, or an anonymous plugin user's pseudonym) replaces whatever the client
    claimed."""
    if user_id is not _KEEP:
        conv = conv.model_copy(update={"user_id": user_id})
    return conv, storable(serialise(conv), loc)


def from_plugin(upload: PluginUpload) -> Conversation:
    try:
        return from_upload(upload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidContribution(("body", *first["loc"]), first["msg"]) from None
    except ValueError as exc:
        raise InvalidContribution(("body",), str(exc)) from None


# --- counts capped before the body is validated in full -------------------------------------------------
# A 2 MB body can hold 500,000 tiny messages; building and validating every one before the schema's message
# cap refuses the conversation cost seconds of CPU. These run on the parsed JSON, before any model is built.


def _messages_over(n: int, loc: tuple[str | int, ...]) -> OverCap:
    return OverCap(loc, f"conversation has {n} messages, over the cap of {DEFAULT_MAX_MESSAGES}")


def _cap_conversation(data: Any, loc: tuple[str | int, ...] = ("body", "conversation")) -> Any:
    if isinstance(data, dict):
        messages = data.get("conversation")
        if isinstance(messages, list) and len(messages) > DEFAULT_MAX_MESSAGES:
            raise _messages_over(len(messages), loc)
    return data


def _cap_plugin_upload(data: Any) -> Any:
    """The plugin's blank messages are dropped on conversion, so the non-blank ones are counted (stopping
    as soon as the count is over the cap)."""
    if not isinstance(data, dict):
        return data
    n = 0
    for field in ("user_msgs", "bot_msgs"):
        msgs = data.get(field)
        if not isinstance(msgs, list):
            continue
        for m in msgs:
            if not isinstance(m, str) or m.strip():
                n += 1
                if n > DEFAULT_MAX_MESSAGES:
                    raise _messages_over(n, ("body", field))
    return data


CappedConversation = Annotated[Conversation, BeforeValidator(_cap_conversation)]
CappedPluginUpload = Annotated[PluginUpload, BeforeValidator(_cap_plugin_upload)]


# --- anonymous re-posts may only extend what was stored ------------------------------------------------


def _same(new: str, stored: str) -> bool:
    # The stored text was redacted with the rules of its day: redacting it again with today's rules gives
    # what today's redaction of the same original text gives.
    return new == stored or new == redact_text(stored)[0]


def _grown(new: str, stored: str) -> bool:
    return new.startswith(stored) or new.startswith(redact_text(stored)[0])


def extends(new: Conversation, stored_document: str) -> bool:
    """Whether `new` keeps every stored message unchanged, in order, adding messages after them (the last
    stored message may have grown: the plugin may have read it while it was still being written)."""
    stored = Conversation.model_validate_json(stored_document, context=NO_CAPS)
    old, cur = stored.conversation, new.conversation
    if len(cur) < len(old):
        return False
    for i, (a, b) in enumerate(zip(old, cur, strict=False)):
        if a.role != b.role:
            return False
        last = i == len(old) - 1
        if not (_grown(b.content, a.content) if last else _same(b.content, a.content)):
            return False
    return True
