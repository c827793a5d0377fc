"""What the process knows about its database's health: the kind of the last failure (disk full, timeout,
unreachable), logged once per episode, and reported by /readyz; and the free space of SQLite's file system."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

from sqlalchemy.exc import TimeoutError as PoolTimeoutError

logger = logging.getLogger("sharelm_collector.db")

DISK_FULL = "disk full"
TIMEOUT = "timeout"
UNAVAILABLE = "unavailable"


def classify(exc: BaseException) -> str:
    """disk full, timeout or unavailable, from a database exception (SQLAlchemy's or the driver's)."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error) and getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return DISK_FULL
    sqlstate = getattr(orig, "sqlstate", None)
    message = str(orig).lower()
    if sqlstate == "53100" or "database or disk is full" in message or "no space left on device" in message:
        return DISK_FULL
    if isinstance(exc, PoolTimeoutError) or sqlstate in ("57014", "55P03") or "did not answer" in message \
            or "timeout" in message or "timed out" in message:
        return TIMEOUT
    return UNAVAILABLE


def describe(exc: BaseException) -> str:
    """The driver's message, one line, without SQLAlchemy's statement and parameters (they hold user text)."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return f"{type(orig).__name__}: {text}"[:500]


class DatabaseHealth:
    """The last database failure of this process, until a write succeeds again (or `STALE_S` passes).
    Logged on the first failure of an episode, then at most every `LOG_EVERY_S` with a count."""

    STALE_S = 60.0
    LOG_EVERY_S = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.problem: str | None = None
        self._since = 0.0
        self._last_log = 0.0
        self._suppressed = 0

    def failed(self, exc: BaseException, where: str) -> str:
        kind = classify(exc)
        now = time.monotonic()
        with self._lock:
            new_episode = self.problem != kind
            self.problem, self._since = kind, now
            if new_episode or now - self._last_log >= self.LOG_EVERY_S:
                more = f" ({self._suppressed} more since the last report)" if self._suppressed else ""
                self._last_log, self._suppressed = now, 0
                log = True
            else:
                self._suppressed += 1
                log = False
        if log:
            logger.error("database %s during %s: %s%s", kind, where, describe(exc), more)
        return kind

    def succeeded(self) -> None:
        if self.problem is None:
            return
        with self._lock:
            if self.problem is not None:
                logger.warning("database writes succeed again (after %s)", self.problem)
                self.problem = None

    def current(self) -> str | None:
        if self.problem is not None and time.monotonic() - self._since > self.STALE_S:
            return None  # re-checked by /readyz itself from here on
        return self.problem


def free_bytes(path: str) -> int | None:
    """Free space for unprivileged writers on the file system holding `path` (None if it cannot be told)."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
    except OSError:
        return None
    return st.f_bavail * st.f_frsize
