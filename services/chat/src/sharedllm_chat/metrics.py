"""Prometheus metrics, in a registry per app (several apps in one process, as in tests, stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "chat_requests", "chat completion requests, by outcome", ["outcome"], registry=r
        )
        self.prompt_tokens = Counter("chat_prompt_tokens", "prompt tokens received", registry=r)
        self.completion_tokens = Counter("chat_completion_tokens", "tokens generated", registry=r)
        self.chunks_encoded = Counter("chat_context_chunks_encoded", "context chunks encoded", registry=r)
        self.chunks_reused = Counter(
            "chat_context_chunks_reused", "context chunks served from cache", registry=r
        )
        self.ttft = Histogram(
            "chat_time_to_first_token_seconds", "submit to first token", registry=r, buckets=_TTFT_BUCKETS
        )
        self.queue_wait = Histogram(
            "chat_queue_wait_seconds", "time queued before prefill", registry=r, buckets=_TTFT_BUCKETS
        )
        self.waiting = Gauge("chat_requests_waiting", "requests queued", registry=r)
        self.running = Gauge("chat_requests_running", "requests decoding", registry=r)
        self.cache_bytes = Gauge("chat_context_cache_bytes", "bytes held by context caches", registry=r)
        self.cache_entries = Gauge(
            "chat_context_cache_entries", "conversations with a context cache", registry=r
        )
        self.contributions = Counter(
            "chat_contributions", "conversations posted to the collector", ["result"], registry=r
        )
