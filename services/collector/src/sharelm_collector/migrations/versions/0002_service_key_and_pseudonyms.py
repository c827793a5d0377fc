"""service key; anonymous plugin user ids stored as keyed pseudonyms; owners re-derived

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

- `service_keys` holds one random secret per database ("service"), the key of `core.security`'s keyed
  transforms (plugin user id pseudonyms, list cursors).
- Anonymous plugin uploads stored before this revision carry the plugin's raw `user_id` in their document,
  and every export printed it (with it, anyone could post under that user). It is replaced by its keyed
  pseudonym; uploads without a user id, which all shared one owner, get an owner each.
- Plugin uploads made with a contributor token carry that contributor's id as `user_id` (before, a client
  could file one under any id it liked).

The downgrade drops the key; the raw plugin user ids it replaced are not restored (they are not kept).
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

from sharelm_collector.core.security import new_service_key, plugin_owner, plugin_pseudonym

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    keys = op.create_table(
        "service_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    key = new_service_key()
    op.bulk_insert(keys, [{"name": "service", "value": key}])
    _rewrite_documents(op.get_bind(), bytes.fromhex(key))


def _rewrite_documents(conn, key: bytes) -> None:
    t = sa.table("conversations", sa.column("id", sa.BigInteger), sa.column("owner", sa.String),
                 sa.column("contributor_id", sa.String), sa.column("document", sa.Text))
    shared_blank_owner = "p:" + hashlib.sha256(b"").hexdigest()
    after = 0
    while True:
        rows = conn.execute(sa.select(t.c.id, t.c.owner, t.c.contributor_id, t.c.document)
                            .where(t.c.id > after).order_by(t.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row_id, owner, contributor_id, document in rows:
            doc = json.loads(document)
            user_id = doc.get("user_id")
            values = {}
            if contributor_id is not None:
                if user_id != contributor_id:
                    doc["user_id"] = contributor_id
                    values["document"] = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            elif owner.startswith("p:"):
                pseudonym = plugin_pseudonym(key, user_id if isinstance(user_id, str) else None)
                if user_id != pseudonym:
                    doc["user_id"] = pseudonym
                    values["document"] = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
                if owner == shared_blank_owner:
                    values["owner"] = plugin_owner(None)
            if values:
                conn.execute(t.update().where(t.c.id == row_id).values(**values))
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table("service_keys")
