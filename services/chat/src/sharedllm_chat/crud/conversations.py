"""Conversations served, each a `sharelm.Conversation`, in an in-memory LRU bounded in count.

The chat API is stateless (the client sends the whole history each turn); the record is the latest
history plus the reply, which is what a rating refers to and what a contribution sends.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sharedllm_chat.schemas.conversations import Contribution, RatingIn
from sharelm import Conversation, ConversationMetadata, Message

SOURCE = "sharedllm_chat"


@dataclass
class ConversationRecord:
    conversation: Conversation
    contribution: Contribution = field(default_factory=Contribution)


class ConversationStore:
    def __init__(self, max_conversations: int) -> None:
        self.max_conversations = max_conversations
        self._records: OrderedDict[str, ConversationRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, conversation_id: str) -> ConversationRecord | None:
        with self._lock:
            return self._records.get(conversation_id)

    def record_turn(
        self,
        conversation_id: str,
        messages: list[Message],
        reply: str,
        model_name: str,
        user_id: str | None,
        opt_in: bool | None,
    ) -> ConversationRecord:
        """Store history + reply; ratings of replies that are still in the history are kept."""
        with self._lock:
            old = self._records.get(conversation_id)
            meta = old.conversation.conversation_metadata.model_copy() if old else ConversationMetadata()
            turns = sum(m.role == "assistant" for m in messages) + 1
            meta.message_ratings = (list(meta.message_ratings) + [0] * turns)[:turns]
            conv = Conversation(
                conversation_id=conversation_id,
                conversation=[*messages, Message(role="assistant", content=reply)],
                model_name=model_name,
                user_id=user_id or (old.conversation.user_id if old else None),
                timestamp=datetime.now(UTC).isoformat(),
                source=SOURCE,
                conversation_metadata=meta,
            )
            contribution = old.contribution if old else Contribution()
            if opt_in is not None:
                contribution = Contribution(opted_in=opt_in, status="pending" if opt_in else "not_opted_in")
            elif contribution.opted_in:
                contribution = contribution.model_copy(update={"status": "pending"})
            record = ConversationRecord(conv, contribution)
            self._records[conversation_id] = record
            self._records.move_to_end(conversation_id)
            while len(self._records) > self.max_conversations:
                self._records.popitem(last=False)
            return record

    def rate(self, conversation_id: str, rating: RatingIn) -> ConversationRecord | None:
        """Apply a rating; raises ValueError (with the reason) when it does not fit the conversation."""
        with self._lock:
            record = self._records.get(conversation_id)
            if record is None:
                return None
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

    def set_opt_in(self, conversation_id: str, opt_in: bool) -> ConversationRecord | None:
        with self._lock:
            record = self._records.get(conversation_id)
            if record is not None:
                record.contribution = Contribution(
                    opted_in=opt_in, status="pending" if opt_in else "not_opted_in"
                )
            return record

    def set_contribution(self, conversation_id: str, contribution: Contribution) -> None:
        with self._lock:
            record = self._records.get(conversation_id)
            if record is not None and record.contribution.opted_in:
                record.contribution = contribution
