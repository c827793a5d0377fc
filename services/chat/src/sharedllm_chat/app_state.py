"""Everything a running app holds: settings, the model, the scheduler, the stores, the collector client."""

from __future__ import annotations

import asyncio
import logging
import time

from sharedllm_chat.clients.collector import CollectorClient
from sharedllm_chat.crud.conversations import ConversationStore
from sharedllm_chat.engine.context_store import ContextStore
from sharedllm_chat.engine.events import Done
from sharedllm_chat.engine.loader import LoadedModel
from sharedllm_chat.engine.scheduler import Scheduler
from sharedllm_chat.metrics import Metrics
from sharedllm_chat.schemas.conversations import Contribution
from sharedllm_chat.settings import Settings

log = logging.getLogger(__name__)


class AppState:
    def __init__(self, settings: Settings, loaded: LoadedModel) -> None:
        self.settings = settings
        self.loaded = loaded
        self.metrics = Metrics()
        self.started_at = int(time.time())
        self.contexts = ContextStore(loaded.sharedllm, settings.cache_max_bytes)
        self.conversations = ConversationStore(settings.max_conversations)
        self.scheduler = Scheduler(
            loaded,
            self.contexts,
            settings.max_active,
            settings.max_queue,
            on_done=self._count,
            batch_decode=settings.batch_decode,
        )
        self.collector = (
            CollectorClient(settings.collector_url, settings.collector_token, settings.collector_timeout_s)
            if settings.collector_url
            else None
        )
        self._tasks: set[asyncio.Task] = set()
        self._posting: dict[str, asyncio.Lock] = {}

    def start(self) -> None:
        self.scheduler.start()

    async def aclose(self) -> None:
        self.scheduler.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.collector_timeout_s)
        if self.collector is not None:
            await self.collector.aclose()

    def _count(self, done: Done) -> None:
        """Called on the worker thread when a generation ends (prometheus metrics are thread-safe)."""
        m = self.metrics
        m.completion_tokens.inc(done.completion_tokens)
        m.chunks_encoded.inc(done.chunks_encoded)
        m.chunks_reused.inc(done.context_chunks - done.chunks_encoded)
        m.queue_wait.observe(done.queue_s)
        if done.ttft_s is not None:
            m.ttft.observe(done.ttft_s)

    def refresh_gauges(self) -> None:
        waiting, running = self.scheduler.depth
        self.metrics.waiting.set(waiting)
        self.metrics.running.set(running)
        self.metrics.cache_bytes.set(self.contexts.nbytes())
        self.metrics.cache_entries.set(len(self.contexts))

    # -- contribution to the collector, in the background --
    def contribute_later(self, conversation_id: str) -> None:
        record = self.conversations.get(conversation_id)
        if record is None or not record.contribution.opted_in:
            return
        if self.collector is None:
            self.conversations.set_contribution(
                conversation_id,
                Contribution(
                    opted_in=True,
                    status="failed",
                    detail="no collector configured on this server (SHAREDLLM_CHAT_COLLECTOR_URL)",
                ),
            )
            return
        task = asyncio.get_running_loop().create_task(self._contribute(conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _contribute(self, conversation_id: str) -> None:
        # One post at a time per conversation, each sending the latest state: the last one to land wins.
        lock = self._posting.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            await self._post(conversation_id)
        if not lock.locked():
            self._posting.pop(conversation_id, None)

    async def _post(self, conversation_id: str) -> None:
        record = self.conversations.get(conversation_id)
        if record is None:
            return
        try:
            answer = await self.collector.contribute(record.conversation)
        except Exception as exc:  # the chat must not fail because the collector did
            log.warning("contribution of %s failed: %s", conversation_id, exc)
            self.metrics.contributions.labels("failed").inc()
            result = Contribution(opted_in=True, status="failed", detail=str(exc))
        else:
            self.metrics.contributions.labels("sent").inc()
            result = Contribution(
                opted_in=True,
                status="sent",
                detail=answer.get("status"),
                collector_conversation_id=answer.get("conversation_id"),
            )
        self.conversations.set_contribution(conversation_id, result)
