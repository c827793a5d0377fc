"""Group commit of new anonymous plugin uploads on PostgreSQL, on psycopg 3's async driver (no thread-pool
hop): the inserts that arrive while the previous group's statement is in flight (or in the same turn of the
event loop) are written by one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING, run in autocommit:
the statement is its own transaction, committed before the server answers it, so a group costs one round
trip (no BEGIN, no separate COMMIT), and each request is answered only once that answer has come (its row is
durable: `synchronous_commit` is PostgreSQL's default, on).

Per-row outcomes: a row the statement inserted is "created"; a row whose (owner, conversation_id) is stored
already comes back as `False` and its request takes the ordinary path (the re-post rules); two uploads with
the same key in one group are never written together (the later one waits for the next group). A group
whose statement the server refused committed nothing (the statement is atomic): on database trouble (down,
frozen, out of disk, timed out) every request in it gets that error (a 503), on anything else (a value the
database refuses, a missing table) every request retries alone on the ordinary path, so one bad row never
fails the others. A statement lost on the way (connection broken, no answer in time) has an unknown
outcome: every request in the group gets a 503 and its client's retry is idempotent (the same key is then
found stored and treated as a re-post).

Every wait is bounded as on the sync path: connecting (`connect_timeout` and a deadline), each statement on
the server (`statement_timeout`, `lock_timeout`), and each group on the client (`db_timeout_s` + 1 s, after
which the connection is closed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from sharelm_collector.core.config import Settings

logger = logging.getLogger("sharelm_collector.db")

# Binary parameters (%b): the documents travel as they are, without text-array quoting and escaping.
_INSERT_NEW = (
    "INSERT INTO conversations (owner, contributor_id, conversation_id, source, document, version, "
    "created_at, updated_at) "
    "SELECT o, NULL, c, s, d, 1, t, t FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::timestamptz[]) AS u(o, c, s, d, t) "
    "ON CONFLICT (owner, conversation_id) DO NOTHING RETURNING owner, conversation_id"
)


class RetryAlone(Exception):  # noqa: N818
    """The group failed before its COMMIT for a reason other than database trouble: nothing of it was
    stored; the request takes the ordinary, one-request-one-transaction path."""


@dataclass(slots=True)
class _Item:
    owner: str
    conversation_id: str
    source: str | None
    document: str
    now: datetime
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]


def _unavailable(exc: BaseException) -> OperationalError:
    """As SQLAlchemy would raise it: the app's handler answers 503 with Retry-After and records the kind."""
    return OperationalError(None, None, exc)  # type: ignore[arg-type]


class GroupCommitter:
    """One per event loop (a worker process has one); one connection, one group in flight at a time."""

    def __init__(self, settings: Settings, on_commit=None):
        url = make_url(settings.database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        timeout_ms = int(settings.db_timeout_s * 1000)
        self._connect_kwargs = {
            "connect_timeout": max(2, round(settings.db_timeout_s)),
            "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} "
            f"-c idle_in_transaction_session_timeout={max(timeout_ms * 6, 60_000)}",
        }
        self._io_timeout = settings.db_timeout_s + 1.0
        self._max_group = max(1, settings.group_commit_max)
        self._on_commit = on_commit
        self._conn: psycopg.AsyncConnection | None = None
        self._queue: list[_Item] = []
        self._flushing = False

    async def insert_new(self, *, owner: str, conversation_id: str, source: str | None, document: str,
                         now: datetime) -> bool:
        """True once the row is committed; False when (owner, conversation_id) is stored already (nothing
        written). Raises SQLAlchemy's OperationalError on database trouble, RetryAlone otherwise."""
        item = _Item(owner, conversation_id, source, document, now)
        loop = asyncio.get_running_loop()
        item.future = loop.create_future()
        self._queue.append(item)
        if not self._flushing:
            self._flushing = True
            # Started on the next turn of the loop: requests parsed in this turn join the first group.
            loop.call_soon(lambda: asyncio.ensure_future(self._flush()))
        return await item.future

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(self._dsn, autocommit=True, **self._connect_kwargs),
                self._io_timeout)
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()  # immediate, whatever state the connection was left in

    async def _flush(self) -> None:
        try:
            while self._queue:
                group, later, keys = [], [], set()
                for item in self._queue:
                    key = (item.owner, item.conversation_id)
                    if key in keys or len(group) >= self._max_group:
                        later.append(item)
                    else:
                        keys.add(key)
                        group.append(item)
                self._queue = later
                await self._commit_group(group)
        finally:
            self._flushing = False

    async def _commit_group(self, group: list[_Item]) -> None:
        try:
            async with asyncio.timeout(self._io_timeout):
                conn = await self._connection()
                # Autocommit: committed once this returns (psycopg waits for the server's ReadyForQuery).
                cur = await conn.execute(_INSERT_NEW, (
                    [i.owner for i in group], [i.conversation_id for i in group], [i.source for i in group],
                    [i.document for i in group], [i.now for i in group]))
                inserted = set(await cur.fetchall())
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                self._discard()
                exc = psycopg.OperationalError(
                    f"the database did not answer within {self._io_timeout:g} s; connection closed")
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                self._discard()
                for item in group:
                    if not item.future.done():
                        item.future.set_exception(_unavailable(psycopg.OperationalError("cancelled")))
                raise
            if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError):
                # Database trouble, or a statement with an unknown outcome: a 503 for each (retries are
                # idempotent). The connection may be unusable: a new one for the next group.
                self._discard()
                error: BaseException = _unavailable(exc)
            else:  # refused by the server: nothing of the group was committed
                error = RetryAlone(str(exc))
            for item in group:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        if self._on_commit is not None:
            self._on_commit()
        for item in group:
            if not item.future.done():
                item.future.set_result((item.owner, item.conversation_id) in inserted)

    async def close(self) -> None:
        self._discard()


def for_loop(app_state) -> GroupCommitter:
    """The app's committer for the running event loop (tests may run an app on several loops in turn);
    `app_state.group_committers` is a WeakKeyDictionary keyed by loop."""
    loop = asyncio.get_running_loop()
    committers = app_state.group_committers
    committer = committers.get(loop)
    if committer is None:
        committer = committers[loop] = GroupCommitter(app_state.settings,
                                                      on_commit=app_state.db_health.succeeded)
    return committer


def close_all(app_state) -> None:
    for committer in list(app_state.group_committers.values()):
        committer._discard()
