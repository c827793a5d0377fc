"""Engine and sessions. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` for writers so that several
worker processes queue for the write lock instead of failing with "database is locked", and one writer
connection per process, so that a worker's threads queue in the pool (woken at once) rather than in
SQLite's busy handler (which polls with sleeps of up to 100 ms)."""

from __future__ import annotations

import fcntl
import os

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from sharelm_collector.core.config import Settings


def _sqlite_pragmas(engine: Engine, settings: Settings) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN itself, so writers can ask for IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cur.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A deferred transaction that later writes can fail at once when another process holds the lock;
        # IMMEDIATE takes the write lock up front and waits for it (busy_timeout).
        mode = "DEFERRED" if conn.get_execution_options().get("read_only") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def _cross_process_write_lock(engine: Engine, lock_path: str) -> None:
    """Writers of all worker processes take an exclusive flock while they hold the writer connection:
    the kernel wakes the next one as soon as it is released."""

    @event.listens_for(engine, "checkout")
    def _lock(_dbapi_conn, record, _proxy) -> None:
        fd = record.info.get("lock_fd")
        if fd is None:
            fd = record.info["lock_fd"] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)

    @event.listens_for(engine, "checkin")
    def _unlock(_dbapi_conn, record) -> None:
        fd = record.info.get("lock_fd")
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


def make_engine(settings: Settings, *, writer: bool = True) -> Engine:
    if settings.is_sqlite:
        engine = create_engine(
            settings.database_url, connect_args={"check_same_thread": False},
            poolclass=QueuePool, pool_size=1 if writer else settings.pool_size, max_overflow=0,
            pool_timeout=settings.sqlite_busy_timeout_ms / 1000,
        )
        _sqlite_pragmas(engine, settings)
        path = engine.url.database
        if writer and path and path != ":memory:" and not path.startswith("file:"):
            _cross_process_write_lock(engine, path + "-writelock")
        return engine
    # No overflow: overflow connections are closed on return, and under load that meant a PostgreSQL
    # backend forked and torn down per request. Threads beyond the pool wait for a connection instead.
    # No pre-ping (a round trip per checkout): a dropped connection fails its request with a 503 and
    # SQLAlchemy, seeing the disconnect, replaces the pool's connections.
    return create_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_recycle=3600,
    )


class Database:
    """One per process: an engine plus sessions for writing and for reading."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings)
        # SQLite: readers get their own pool (WAL readers never wait for the writer); PostgreSQL: one pool.
        self.read_engine = make_engine(settings, writer=False) if settings.is_sqlite else self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine.execution_options(read_only=True), expire_on_commit=False)

    def session(self) -> Session:
        return self._write()

    def read_session(self) -> Session:
        return self._read()

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
