"""Opted-in conversations go to the collector in the background, retried with backoff (tenacity).

One loop per conversation: each try posts the latest state, so turns and ratings that arrive while a post
is waiting to be retried ride along with it, and one that arrives during a post is sent after it. What the
loop is doing shows in the conversation's `contribution` (pending, retrying with the attempt count, the
reason and the next attempt's time, sent, failed); a failure that is not worth retrying (a 4xx other than
408/425/429) fails at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from sharedllm_chat.clients.collector import CollectorClient, CollectorError
from sharedllm_chat.crud.conversations import ConversationRecord, ConversationStore
from sharedllm_chat.metrics import Metrics
from sharedllm_chat.schemas.conversations import Contribution
from sharedllm_chat.settings import Settings

log = logging.getLogger(__name__)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, CollectorError) and exc.retryable


class Contributions:
    def __init__(
        self, client: CollectorClient, store: ConversationStore, metrics: Metrics, settings: Settings
    ) -> None:
        self.client, self.store, self.metrics = client, store, metrics
        self.attempts = settings.collector_attempts
        self.backoff_max_s = settings.collector_backoff_max_s
        # 1, 2, 4 ... times the first wait (up to the max), plus up to one first wait of jitter.
        self._backoff = wait_exponential(
            multiplier=settings.collector_backoff_s, max=settings.collector_backoff_max_s
        ) + wait_random(0, settings.collector_backoff_s)
        self._loops: dict[ConversationRecord, asyncio.Task] = {}
        self._dirty: set[ConversationRecord] = set()

    def submit(self, record: ConversationRecord) -> None:
        """Post the record's latest state (on the event loop)."""
        if record in self._loops:
            self._dirty.add(record)
            return
        task = asyncio.get_running_loop().create_task(self._loop(record))
        self._loops[record] = task
        task.add_done_callback(lambda _: self._loops.pop(record, None))

    async def aclose(self, grace_s: float) -> None:
        tasks = list(self._loops.values())
        if tasks:
            _, waiting = await asyncio.wait(tasks, timeout=grace_s)
            for task in waiting:  # a post still backing off when the server stops: it stays pending
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    async def _loop(self, record: ConversationRecord) -> None:
        while True:
            self._dirty.discard(record)
            await self._post(record)
            if record not in self._dirty:
                return

    async def _post(self, record: ConversationRecord) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            before_sleep=lambda state: self._show_retry(record, state),
            reraise=True,
        )
        tries = 0
        try:
            async for attempt in retrying:
                with attempt:
                    tries = attempt.retry_state.attempt_number
                    if record.deleted or not record.contribution.opted_in:
                        return  # deleted or opted out since: nothing to send
                    self._dirty.discard(record)  # this try sends what is there now
                    conversation = record.conversation.model_copy(
                        update={"conversation_id": record.collector_id}
                    )
                    answer = await self.client.contribute(conversation)
        except Exception as exc:  # the chat must not fail because the collector did
            log.warning("contribution of %s failed after %d tries: %s", record.key[1], tries, exc)
            self.metrics.contributions.labels("failed").inc()
            self.store.set_contribution(
                record, Contribution(opted_in=True, status="failed", detail=str(exc), attempts=tries)
            )
            return
        self.metrics.contributions.labels("sent").inc()
        if record not in self._dirty:  # else a newer state is queued: it stays "pending" until that lands
            sent = Contribution(
                opted_in=True,
                status="sent",
                detail=answer.get("status"),
                collector_conversation_id=answer.get("conversation_id"),
                attempts=tries,
            )
            self.store.set_contribution(record, sent)

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the collector's Retry-After when it asks for longer."""
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after_s", None) or 0.0
        return min(max(self._backoff(state), asked), self.backoff_max_s)

    def _show_retry(self, record: ConversationRecord, state: RetryCallState) -> None:
        exc = state.outcome.exception()
        wait_s = state.next_action.sleep if state.next_action else 0.0
        self.metrics.contributions.labels("retried").inc()
        at = (datetime.now(UTC) + timedelta(seconds=wait_s)).isoformat()
        retrying = Contribution(
            opted_in=True,
            status="retrying",
            detail=str(exc),
            attempts=state.attempt_number,
            next_attempt_at=at,
        )
        self.store.set_contribution(record, retrying)
