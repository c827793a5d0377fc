"""contributors and conversations

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contributors",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_contributors_token_hash"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("contributor_id", sa.String(32),
                  sa.ForeignKey("contributors.id", ondelete="CASCADE", name="fk_conversations_contributor"),
                  nullable=True),
        sa.Column("conversation_id", sa.String(256), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "conversation_id", name="uq_conversations_owner_cid"),
    )
    op.create_index("ix_conversations_contributor_id", "conversations", ["contributor_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_contributor_id", table_name="conversations")
    op.drop_table("conversations")
    op.drop_table("contributors")
