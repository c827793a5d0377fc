"""In-process token buckets. Each uvicorn worker enforces `limit / workers` of a per-minute allowance, so
the service as a whole allows about `limit` (connections are spread evenly across workers by the kernel)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class RateLimiter:
    """Token bucket per key; `capacity` requests of burst, refilled at `capacity` per `period` seconds.
    Used from the event loop and from the endpoints' threads (failed authentications are counted there), so
    it takes a lock: uncontended, it costs well under a microsecond."""

    def __init__(self, capacity: float, period: float = 60.0, max_keys: int = 100_000):
        self.capacity = capacity
        self.rate = capacity / period
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def hit(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:  # forget the least recently seen (full again by now)
                self._buckets.popitem(last=False)
        return wait

    def blocked(self, key: str, now: float | None = None) -> float:
        """Without taking a token: 0 while one is left, else the seconds until there is one."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._buckets.get(key)
            if entry is None:
                return 0.0
            tokens = min(self.capacity, entry[0] + (now - entry[1]) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


def per_worker(limit_per_minute: int, workers: int) -> RateLimiter:
    share = limit_per_minute / max(1, workers) if limit_per_minute > 0 else 0
    # At least one request of burst when the limit is on, even with many workers.
    return RateLimiter(max(share, 1.0) if share else 0)
