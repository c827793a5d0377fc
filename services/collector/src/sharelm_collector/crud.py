"""Database reads and writes. Every function works inside the caller's session (and its transaction);
callers commit. The per-request statements are SQLAlchemy Core, built once and run on the session's
connection: the ORM's execution machinery cost 4-5x more CPU per statement than the statement itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sharelm_collector.core.security import contributor_owner, hash_token, new_contributor_id, new_token
from sharelm_collector.ingest import NotAnExtension
from sharelm_collector.models import Contributor, StoredConversation, utcnow

T = StoredConversation.__table__

_CONTRIBUTOR_BY_TOKEN = select(Contributor.id).where(Contributor.token_hash == bindparam("token_hash"))
_OWN = (T.c.owner == bindparam("owner")) & (T.c.conversation_id == bindparam("conversation_id"))
_GET = select(T.c.id, T.c.document).where(_OWN)
_DELETE = delete(T).where(_OWN)
_LIST = (select(T.c.id, T.c.document)
         .where(T.c.owner == bindparam("owner"), T.c.id > bindparam("after"))
         .order_by(T.c.id).limit(bindparam("limit")))
_SET_DOCUMENT = update(T).where(T.c.id == bindparam("row_id")).values(
    document=bindparam("document"), updated_at=bindparam("now"))
_GET_VERSIONED = select(T.c.id, T.c.version, T.c.document).where(_OWN)
_EXTEND = update(T).where(T.c.id == bindparam("row_id"), T.c.version == bindparam("seen")).values(
    document=bindparam("document"), source=bindparam("source"), updated_at=bindparam("now"),
    version=T.c.version + 1)


def create_contributor(session: Session) -> tuple[Contributor, str]:
    token = new_token()
    contributor = Contributor(id=new_contributor_id(), token_hash=hash_token(token), created_at=utcnow())
    session.add(contributor)
    return contributor, token


def contributor_by_token_hash(session: Session, token_hash: str) -> str | None:
    """The contributor id holding this token (runs on every authenticated request)."""
    return session.connection().execute(_CONTRIBUTOR_BY_TOKEN, {"token_hash": token_hash}).scalar()


@lru_cache(maxsize=4)
def _upsert_statement(dialect: str):
    """INSERT ... ON CONFLICT (owner, conversation_id) DO UPDATE ... RETURNING version, built once per
    dialect (constructing it per request was a fifth of the server's Python time in the profile)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(T)
    return stmt.on_conflict_do_update(
        index_elements=[T.c.owner, T.c.conversation_id],
        set_={
            "document": stmt.excluded.document,
            "source": stmt.excluded.source,
            "updated_at": stmt.excluded.updated_at,
            "version": T.c.version + 1,
        },
    ).returning(T.c.version)


def upsert_conversation(
    session: Session, *, owner: str, contributor_id: str | None, conversation_id: str,
    source: str | None, document: str,
) -> str:
    """Insert, or replace the owner's earlier version of the same conversation, in one atomic statement.
    Returns "created" or "replaced" (read from the version counter the statement returns)."""
    now = utcnow()
    params = {"owner": owner, "contributor_id": contributor_id, "conversation_id": conversation_id,
              "source": source, "document": document, "version": 1, "created_at": now, "updated_at": now}
    conn = session.connection()
    version = conn.execute(_upsert_statement(conn.dialect.name), params).scalar_one()
    return "created" if version == 1 else "replaced"


@lru_cache(maxsize=4)
def _insert_new_statement(dialect: str):
    """INSERT ... ON CONFLICT (owner, conversation_id) DO NOTHING RETURNING id: a row only when it is new."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(T).on_conflict_do_nothing(index_elements=[T.c.owner, T.c.conversation_id]).returning(T.c.id)


def insert_or_extend(
    session: Session, *, owner: str, conversation_id: str, source: str | None, document: str,
    extends: Callable[[str], bool], attempts: int = 5,
) -> str:
    """Insert, or replace the stored version only when `extends(stored document)` holds (anonymous plugin
    re-posts may only add to a conversation, never change it). A concurrent change between the read and
    the write is detected by the version counter and retried. "created" or "replaced"; raises
    NotAnExtension when the re-post does not extend the stored conversation."""
    conn = session.connection()
    for _ in range(attempts):
        now = utcnow()
        params = {"owner": owner, "contributor_id": None, "conversation_id": conversation_id,
                  "source": source, "document": document, "version": 1, "created_at": now, "updated_at": now}
        if conn.execute(_insert_new_statement(conn.dialect.name), params).first() is not None:
            return "created"
        row = conn.execute(_GET_VERSIONED, {"owner": owner, "conversation_id": conversation_id}).first()
        if row is None:  # deleted since the insert found it
            continue
        if not extends(row.document):
            raise NotAnExtension(
                f"conversation {conversation_id!r} was uploaded before with other messages: a re-post may "
                "only add messages after the ones stored (send a different conversation under a new "
                "conversation_id)"
            )
        changed = conn.execute(_EXTEND, {"row_id": row.id, "seen": row.version, "document": document,
                                         "source": source, "now": now}).rowcount
        if changed:
            return "replaced"
    raise NotAnExtension(f"conversation {conversation_id!r} kept changing while it was re-posted; retry")


def get_conversation(session: Session, contributor_id: str, conversation_id: str) -> Row | None:
    """(id, document) of one of the contributor's conversations."""
    params = {"owner": contributor_owner(contributor_id), "conversation_id": conversation_id}
    return session.connection().execute(_GET, params).first()


def list_conversations(session: Session, contributor_id: str, *, after: int, limit: int) -> list[Row]:
    """(id, document) rows, keyset-paginated on the row id: stable under concurrent inserts and deletes
    (the row id never leaves the service: the API's cursor is a keyed permutation of it)."""
    params = {"owner": contributor_owner(contributor_id), "after": after, "limit": limit}
    return list(session.connection().execute(_LIST, params))


def set_document(session: Session, row_id: int, document: str) -> None:
    session.connection().execute(_SET_DOCUMENT, {"row_id": row_id, "document": document, "now": utcnow()})


def delete_conversation(session: Session, contributor_id: str, conversation_id: str) -> bool:
    params = {"owner": contributor_owner(contributor_id), "conversation_id": conversation_id}
    return session.connection().execute(_DELETE, params).rowcount > 0


def delete_contributor(session: Session, contributor_id: str) -> int:
    """Erase a contributor and everything they contributed (explicitly, not left to the FK cascade, which
    SQLite only honours with its foreign_keys pragma on)."""
    conn = session.connection()
    n = conn.execute(delete(T).where(T.c.contributor_id == contributor_id)).rowcount
    conn.execute(delete(Contributor).where(Contributor.id == contributor_id))
    return n


def delete_owner(session: Session, owner: str) -> int:
    """Every conversation of one idempotency owner (e.g. an anonymous plugin user)."""
    return session.connection().execute(delete(T).where(T.c.owner == owner)).rowcount


def iter_rows(session_factory, chunk: int = 500) -> Iterator[tuple[int, str]]:
    """Every stored conversation's (row id, JSON), in id order, a short read transaction per chunk so a long
    export neither holds a snapshot open nor blocks writers."""
    after = 0
    while True:
        with session_factory() as session:
            rows = session.connection().execute(
                select(T.c.id, T.c.document).where(T.c.id > after).order_by(T.c.id).limit(chunk)
            ).all()
        if not rows:
            return
        yield from ((row_id, document) for row_id, document in rows)
        after = rows[-1][0]


def iter_documents(session_factory, chunk: int = 500) -> Iterator[str]:
    for _, document in iter_rows(session_factory, chunk):
        yield document
