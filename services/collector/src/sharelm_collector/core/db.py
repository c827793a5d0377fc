"""Engine and sessions. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` for writers so that several
worker processes queue for the write lock instead of failing with "database is locked", and one writer
connection per process, so that a worker's threads queue in the pool (woken at once) rather than in
SQLite's busy handler (which polls with sleeps of up to 100 ms).

Every PostgreSQL call is bounded (`Settings.db_timeout_s`): connecting (libpq `connect_timeout`), each
statement on the server (`statement_timeout`, `lock_timeout`), each wait for the server's answer on the client
(a psycopg connection whose every wait has a deadline: a server that is frozen, or a network that drops
packets, never answers, and the server-side timeouts cannot fire then), and waiting for a pooled connection.
When a bound is hit the request gets a 503 with Retry-After, and the pool replaces its connections."""

from __future__ import annotations

import fcntl
import logging
import os

from sqlalchemy import Engine, create_engine, delete, event, insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from sharelm_collector.core.config import Settings
from sharelm_collector.core.keys import ServiceKeys
from sharelm_collector.models import ServiceKey

logger = logging.getLogger("sharelm_collector.db")


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
        # Deleted rows are overwritten with zeros, not left in free pages of the file (erasure means erased).
        cur.execute("PRAGMA secure_delete=ON")
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


def bounded_psycopg_connection(io_timeout: float) -> type:
    """A psycopg Connection class whose every wait for the server has a deadline. psycopg runs all of a
    connection's I/O (statements, fetches, commit, rollback) through `Connection.wait`; past the deadline the
    connection is in an unknown state (a statement may be half sent), so it is closed and the caller gets an
    OperationalError, which SQLAlchemy sees as a disconnect."""
    import psycopg
    from psycopg import errors

    wait_timeout = errors._WaitTimeout  # what psycopg's wait raises when its timeout expires

    class BoundedConnection(psycopg.Connection):
        def wait(self, gen, interval=0.1, timeout=None):
            if timeout is not None:  # psycopg's own bounded waits (cancellation, notifies)
                return super().wait(gen, interval, timeout)
            try:
                return super().wait(gen, interval, io_timeout)
            except wait_timeout:
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the database did not answer within {io_timeout:g} s; connection closed"
                ) from None

    return BoundedConnection


def _postgres_engine(settings: Settings) -> Engine:
    timeout_ms = int(settings.db_timeout_s * 1000)
    engine = create_engine(
        settings.database_url,
        # No overflow: overflow connections are closed on return, and under load that meant a PostgreSQL
        # backend forked and torn down per request. Threads beyond the pool wait for a connection instead.
        # No pre-ping (a round trip per checkout): a dropped connection fails its request with a 503 and
        # SQLAlchemy, seeing the disconnect, replaces the pool's connections.
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.db_timeout_s,
        pool_recycle=3600,
        connect_args={
            "connect_timeout": max(2, round(settings.db_timeout_s)),  # libpq's minimum is 2 s
            "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} "
            f"-c idle_in_transaction_session_timeout={max(timeout_ms * 6, 60_000)}",
        },
    )
    # The server-side timeouts answer first when the server is slow; the client-side deadline (a second
    # later) only when it does not answer at all.
    connection_class = bounded_psycopg_connection(settings.db_timeout_s + 1.0)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return connection_class.connect(*cargs, **cparams)

    return engine


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
    return _postgres_engine(settings)


class Database:
    """One per process: an engine plus sessions for writing and for reading."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings)
        # SQLite: readers get their own pool (WAL readers never wait for the writer); PostgreSQL: one pool.
        self.read_engine = make_engine(settings, writer=False) if settings.is_sqlite else self.engine
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine.execution_options(read_only=True), expire_on_commit=False)
        self.keys = ServiceKeys(self.read_engine)

    @property
    def is_sqlite(self) -> bool:
        return self.settings.is_sqlite

    @property
    def sqlite_path(self) -> str | None:
        path = self.engine.url.database if self.is_sqlite else None
        return path if path and path != ":memory:" and not path.startswith("file:") else None

    def session(self) -> Session:
        return self._write()

    def probe_write(self) -> None:
        """A write that leaves nothing behind (a row added and removed in one committed transaction, big
        enough on SQLite to need a page of its own): raises if the database cannot take writes that grow it,
        e.g. for want of disk space. Committed through the write sessions (after_write_commit)."""
        value = "x" * (8192 if self.is_sqlite else 128)
        with self.session() as session:
            session.execute(insert(ServiceKey).values(name="write-probe", value=value))
            session.execute(delete(ServiceKey).where(ServiceKey.name == "write-probe"))
            session.commit()

    def after_write_commit(self, fn) -> None:
        """Call `fn(session)` after every committed write transaction."""
        event.listen(self._write, "after_commit", fn)

    def read_session(self) -> Session:
        return self._read()

    def checkpoint(self, attempts: int = 3) -> bool:
        """SQLite: copy the WAL into the database file and truncate it to zero bytes, so that the text of an
        erasure is gone from the WAL as well (run after the erasure's commit). True when it completed; a
        reader still on an older snapshot makes it wait (up to a second a try) or give up, logged."""
        if not self.is_sqlite:
            return True
        raw = self.engine.raw_connection()  # the writer connection: no other writer runs meanwhile
        conn = raw.driver_connection
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            for _ in range(attempts):
                busy, *_ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return True
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(self.settings.sqlite_busy_timeout_ms)}")
            raw.close()
        logger.warning("WAL checkpoint after an erasure stayed busy (readers); it completes at the next one")
        return False

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
