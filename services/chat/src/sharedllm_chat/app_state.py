"""Everything a running app holds: settings, the model, the scheduler, the stores, the collector client."""

from __future__ import annotations

import logging
import time

from sharedllm_chat.clients.collector import CollectorClient
from sharedllm_chat.clients.contributions import Contributions
from sharedllm_chat.crud.conversations import ConversationRecord, ConversationStore, Key
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
        self.contributions = (
            Contributions(self.collector, self.conversations, self.metrics, settings)
            if self.collector
            else None
        )

    def start(self) -> None:
        self.scheduler.start()

    async def aclose(self) -> None:
        self.scheduler.stop()
        if self.contributions is not None:
            await self.contributions.aclose(grace_s=self.settings.collector_timeout_s)
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

    def forget_context(self, key: Key) -> None:
        """Drop a deleted conversation's context cache (a request still decoding keeps its own hold)."""
        store, context_key = self.contexts, self.conversations.context_key(key)
        discard = getattr(store, "discard", None)
        if discard is not None:
            discard(context_key)
            return
        with store._lock:  # ContextStore has no public delete yet
            store._entries.pop(context_key, None)

    def contribute_later(self, record: ConversationRecord | None) -> None:
        """Post an opted-in conversation to the collector in the background (with retries)."""
        if record is None or not record.contribution.opted_in or record.conversation is None:
            return
        if self.contributions is None:
            self.conversations.set_contribution(
                record,
                Contribution(
                    opted_in=True,
                    status="failed",
                    detail="no collector configured on this server (SHAREDLLM_CHAT_COLLECTOR_URL)",
                ),
            )
            return
        self.contributions.submit(record)
