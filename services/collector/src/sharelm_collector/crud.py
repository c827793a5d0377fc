"""Database reads and writes. Every function works inside the caller's session; callers commit."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sharelm_collector.core.security import contributor_owner, hash_token, new_contributor_id, new_token
from sharelm_collector.models import Contributor, StoredConversation, utcnow


def create_contributor(session: Session) -> tuple[Contributor, str]:
    token = new_token()
    contributor = Contributor(id=new_contributor_id(), token_hash=hash_token(token), created_at=utcnow())
    session.add(contributor)
    return contributor, token


def contributor_by_token_hash(session: Session, token_hash: str) -> str | None:
    """The contributor id holding this token (a column, not an ORM entity: this runs on every request)."""
    return session.scalar(select(Contributor.id).where(Contributor.token_hash == token_hash))


@lru_cache(maxsize=4)
def _upsert_statement(dialect: str):
    """INSERT ... ON CONFLICT (owner, conversation_id) DO UPDATE ... RETURNING version, built once per
    dialect: constructing it per request was a fifth of the server's Python time in the profile."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(StoredConversation)
    return stmt.on_conflict_do_update(
        index_elements=[StoredConversation.owner, StoredConversation.conversation_id],
        set_={
            "document": stmt.excluded.document,
            "source": stmt.excluded.source,
            "updated_at": stmt.excluded.updated_at,
            "version": StoredConversation.version + 1,
        },
    ).returning(StoredConversation.version)


def upsert_conversation(
    session: Session, *, owner: str, contributor_id: str | None, conversation_id: str,
    source: str | None, document: str,
) -> str:
    """Insert, or replace the owner's earlier version of the same conversation, in one atomic statement.
    Returns "created" or "replaced" (read from the version counter the statement returns)."""
    now = utcnow()
    params = {"owner": owner, "contributor_id": contributor_id, "conversation_id": conversation_id,
              "source": source, "document": document, "version": 1, "created_at": now, "updated_at": now}
    version = session.execute(_upsert_statement(session.get_bind().dialect.name), params).scalar_one()
    return "created" if version == 1 else "replaced"


def _own(contributor_id: str):
    return StoredConversation.owner == contributor_owner(contributor_id)


def get_conversation(
    session: Session, contributor_id: str, conversation_id: str
) -> StoredConversation | None:
    return session.scalar(
        select(StoredConversation).where(
            _own(contributor_id), StoredConversation.conversation_id == conversation_id
        )
    )


def list_conversations(
    session: Session, contributor_id: str, *, after: int, limit: int
) -> list[StoredConversation]:
    """Keyset pagination on the row id: stable under concurrent inserts and deletes."""
    return list(
        session.scalars(
            select(StoredConversation)
            .where(_own(contributor_id), StoredConversation.id > after)
            .order_by(StoredConversation.id)
            .limit(limit)
        )
    )


def set_document(session: Session, row: StoredConversation, document: str) -> None:
    session.execute(
        update(StoredConversation)
        .where(StoredConversation.id == row.id)
        .values(document=document, updated_at=utcnow())
    )


def delete_conversation(session: Session, contributor_id: str, conversation_id: str) -> bool:
    result = session.execute(
        delete(StoredConversation).where(
            _own(contributor_id), StoredConversation.conversation_id == conversation_id
        )
    )
    return result.rowcount > 0


def delete_contributor(session: Session, contributor_id: str) -> int:
    """Erase a contributor and everything they contributed (explicitly, not left to the FK cascade, which
    SQLite only honours with its foreign_keys pragma on)."""
    n = session.execute(
        delete(StoredConversation).where(StoredConversation.contributor_id == contributor_id)
    ).rowcount
    session.execute(delete(Contributor).where(Contributor.id == contributor_id))
    return n


def count_conversations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StoredConversation)) or 0


def iter_documents(session_factory, chunk: int = 500) -> Iterator[str]:
    """Every stored conversation's JSON, in id order, a short read transaction per chunk so a long export
    neither holds a snapshot open nor blocks writers."""
    after = 0
    while True:
        with session_factory() as session:
            rows = session.execute(
                select(StoredConversation.id, StoredConversation.document)
                .where(StoredConversation.id > after)
                .order_by(StoredConversation.id)
                .limit(chunk)
            ).all()
        if not rows:
            return
        for _, document in rows:
            yield document
        after = rows[-1][0]
