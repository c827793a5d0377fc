"""Conversations served, each a `sharelm.Conversation`, in an in-memory LRU bounded in count.

The chat API is stateless (the client sends the whole history each turn); the record is the latest
history plus the reply, which is what a rating refers to and what a contribution sends.

Each conversation belongs to the caller who started it. Records are keyed by (owner, id): a caller with a
per-user API key owns every id it uses, and the same id under another key is another conversation. A caller
without one (an open server, or the one shared `api_key`) gets a secret at the conversation's first turn and
must send it back; without it the conversation does not exist for them (`lookup` answers None, the routes
404). The store keeps only a hash of the secret.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sharedllm_chat.schemas.conversations import Contribution, RatingIn
from sharelm import Conversation, ConversationMetadata, Message

SOURCE = "sharedllm_chat"

Key = tuple[str, str]  # (owner, conversation_id)


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def collector_id(key: Key, secret_hash: bytes | None) -> str:
    """The id a contribution is filed under at the collector: one per binding, so that two callers using
    the same id (or one after a restart forgot the first) never replace each other's contribution."""
    owner, cid = key
    tag = hashlib.sha256(owner.encode() + b"\0" + (secret_hash or b"")).hexdigest()[:16]
    return f"{cid}.{tag}"


@dataclass(eq=False)
class ConversationRecord:
    key: Key
    conversation: Conversation | None = None  # None until its first turn is recorded
    contribution: Contribution = field(default_factory=Contribution)
    secret_hash: bytes | None = None
    collector_id: str = ""
    deleted: bool = False  # a turn still in flight when it was deleted must not bring it back

    def admits(self, secret: str | None) -> bool:
        if self.secret_hash is None:
            return True  # bound by the owner's key alone
        return secret is not None and secrets.compare_digest(self.secret_hash, _hash(secret))


class ConversationNotFound(LookupError):
    """Unknown, or not the caller's: the two are answered alike so that nobody learns which ids exist."""


class ConversationStore:
    def __init__(self, max_conversations: int) -> None:
        self.max_conversations = max_conversations
        self._records: OrderedDict[Key, ConversationRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    @staticmethod
    def context_key(key: Key) -> str:
        """The key of the conversation's context cache: per owner too, so no caller's cache is another's."""
        owner, cid = key
        return f"{owner}\x1f{cid}"  # ids and owner names never hold control characters

    def lookup(self, key: Key, secret: str | None) -> ConversationRecord | None:
        with self._lock:
            record = self._records.get(key)
            if record is None or record.conversation is None or not record.admits(secret):
                return None
            return record

    def open_turn(
        self, key: Key, secret: str | None, bind_by_secret: bool
    ) -> tuple[ConversationRecord, str | None]:
        """The record a new turn writes to, claimed now (a concurrent first turn cannot take the id).
        Returns (record, new secret): the secret only when this turn starts a secret-bound conversation.
        Raises ConversationNotFound when the id is someone else's."""
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                if not record.admits(secret):
                    raise ConversationNotFound(key[1])
                return record, None
            new_secret = secrets.token_urlsafe(32) if bind_by_secret else None
            secret_hash = _hash(new_secret) if new_secret else None
            record = ConversationRecord(
                key, secret_hash=secret_hash, collector_id=collector_id(key, secret_hash)
            )
            self._insert(record)
            return record, new_secret

    def abandon(self, record: ConversationRecord) -> None:
        """A first turn that ended without an answer (refused, cancelled, failed) gives its claim back."""
        with self._lock:
            if record.conversation is None and self._records.get(record.key) is record:
                del self._records[record.key]

    def record_turn(
        self,
        record: ConversationRecord,
        messages: list[Message],
        reply: str,
        model_name: str,
        user_id: str | None,
        opt_in: bool | None,
    ) -> ConversationRecord:
        """Store history + reply; ratings of replies that are still in the history are kept."""
        with self._lock:
            current = self._records.get(record.key)
            if record.deleted or (current is not None and current is not record):
                return record  # deleted, or evicted mid-turn and the id claimed anew: write over nothing
            old = record.conversation
            meta = old.conversation_metadata.model_copy() if old else ConversationMetadata()
            turns = sum(m.role == "assistant" for m in messages) + 1
            meta.message_ratings = (list(meta.message_ratings) + [0] * turns)[:turns]
            record.conversation = Conversation(
                conversation_id=record.key[1],
                conversation=[*messages, Message(role="assistant", content=reply)],
                model_name=model_name,
                user_id=user_id or (old.user_id if old else None),
                timestamp=datetime.now(UTC).isoformat(),
                source=SOURCE,
                conversation_metadata=meta,
            )
            if opt_in is not None:
                record.contribution = Contribution(
                    opted_in=opt_in, status="pending" if opt_in else "not_opted_in"
                )
            elif record.contribution.opted_in:
                record.contribution = record.contribution.model_copy(update={"status": "pending"})
            self._insert(record)
            return record

    def rate(self, key: Key, secret: str | None, rating: RatingIn) -> ConversationRecord | None:
        """Apply a rating; raises ValueError (with the reason) when it does not fit the conversation."""
        record = self.lookup(key, secret)
        if record is None:
            return None
        with self._lock:
            conv = record.conversation
            ratings = list(conv.conversation_metadata.message_ratings)
            ratings += [0] * (conv.num_assistant_turns - len(ratings))
            if rating.message_ratings is not None:
                ratings = list(rating.message_ratings)
            if rating.message_index is not None:
                if rating.message_index >= conv.num_assistant_turns:
                    raise ValueError(
                        f"message_index {rating.message_index} is out of range: the conversation "
                        f"has {conv.num_assistant_turns} assistant messages"
                    )
                ratings[rating.message_index] = rating.rating
            meta = conv.conversation_metadata.model_dump()
            meta["message_ratings"] = ratings
            if rating.rate is not None:
                meta["rate"] = rating.rate
            # Re-validate through the shared schema: it checks the ratings fit the assistant turns.
            record.conversation = Conversation.model_validate(
                {**conv.model_dump(), "conversation_metadata": meta}
            )
            if record.contribution.opted_in:
                record.contribution = record.contribution.model_copy(update={"status": "pending"})
            return record

    def set_opt_in(self, key: Key, secret: str | None, opt_in: bool) -> ConversationRecord | None:
        record = self.lookup(key, secret)
        if record is not None:
            with self._lock:
                record.contribution = Contribution(
                    opted_in=opt_in, status="pending" if opt_in else "not_opted_in"
                )
        return record

    def delete(self, key: Key, secret: str | None) -> ConversationRecord | None:
        record = self.lookup(key, secret)
        if record is not None:
            with self._lock:
                record.deleted = True
                if self._records.get(key) is record:
                    del self._records[key]
        return record

    def set_contribution(self, record: ConversationRecord, contribution: Contribution) -> None:
        with self._lock:
            if record.contribution.opted_in:
                record.contribution = contribution

    def _insert(self, record: ConversationRecord) -> None:
        self._records[record.key] = record
        self._records.move_to_end(record.key)
        while len(self._records) > self.max_conversations:
            self._records.popitem(last=False)
