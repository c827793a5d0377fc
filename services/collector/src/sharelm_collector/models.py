"""Database tables (SQLAlchemy 2 declarative). The schema itself is created by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Contributor(Base):
    __tablename__ = "contributors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # sha256 of the bearer token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServiceKey(Base):
    """Secrets of this deployment, created by the migrations (one row, "service": see core.security)."""

    __tablename__ = "service_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class StoredConversation(Base):
    """One conversation, already redacted, as the `sharelm.Conversation` JSON it will be exported as."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("owner", "conversation_id", name="uq_conversations_owner_cid"),)

    # BigInteger on PostgreSQL, INTEGER (rowid alias) on SQLite.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # Idempotency scope: "c:<contributor id>" for authenticated uploads, "p:<sha256(plugin user_id)>" for
    # anonymous ones, "p:anon:<random>" for anonymous ones without a user id (they never match another).
    owner: Mapped[str] = mapped_column(String(80))
    contributor_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("contributors.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[str] = mapped_column(String(256))
    source: Mapped[str | None] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    # 1 when first stored, +1 each time the same conversation is re-posted (the plugin re-sends as it grows).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
