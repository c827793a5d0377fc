"""The reference backend's table, as described: `conversations(id, conversation_id, bot_msgs ARRAY, user_msgs
ARRAY, page_url, user_id, user_metadata JSON, timestamp, conversation_metadata JSON)`. Apart from app.py so
that the harness creates it (once, before the workers boot) without importing Faker."""

from __future__ import annotations

from sqlalchemy import ARRAY, JSON, Column, Integer, String, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Conversation(Base):
    __tablename__ = "conversations"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    bot_msgs = Column(ARRAY(String), nullable=False)
    user_msgs = Column(ARRAY(String), nullable=False)
    page_url = Column(String(255), nullable=False)
    user_id = Column(String(255), nullable=False)
    user_metadata = Column(JSON, nullable=True)
    timestamp = Column(String(255), nullable=False)
    conversation_metadata = Column(JSON, nullable=True)


def create_schema(engine) -> None:
    """Create the table if it is missing (what the reference does at import)."""
    if not inspect(engine).has_table("conversations"):
        try:
            Base.metadata.create_all(engine)
        except SQLAlchemyError:  # another process created it first
            if not inspect(engine).has_table("conversations"):
                raise
