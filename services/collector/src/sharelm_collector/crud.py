"""Database reads and writes. Every function works inside the caller's session (and its transaction);
callers commit. The per-request statements are SQLAlchemy Core, built once and run on the session's
connection: the ORM's execution machinery cost 4-5x more CPU per statement than the statement itself."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sharelm_collector.core.security import contributor_owner, hash_token, new_contributor_id, new_token
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


def get_conversation(session: Session, contributor_id: str, conversation_id: str) -> Row | None:
    """(id, document) of one of the contributor's conversations."""
    params = {"owner": contributor_owner(contributor_id), "conversation_id": conversation_id}
    return session.connection().execute(_GET, params).first()


def list_conversations(session: Session, contributor_id: str, *, after: int, limit: int) -> list[Row]:
    """(id, document) rows, keyset-paginated on the row id: stable under concurrent inserts and deletes."""
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


def iter_documents(session_factory, chunk: int = 500) -> Iterator[str]:
    """Every stored conversation's JSON, in id order, a short read transaction per chunk so a long export
    neither holds a snapshot open nor blocks writers."""
    after = 0
    while True:
        with session_factory() as session:
            rows = session.connection().execute(
                select(T.c.id, T.c.document).where(T.c.id > after).order_by(T.c.id).limit(chunk)
            ).all()
        if not rows:
            return
        for _, document in rows:
            yield document
        after = rows[-1][0]
