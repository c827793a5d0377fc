"""Settings from the environment, and the schema created (and removed) by the Alembic migrations only."""

from __future__ import annotations

from sqlalchemy import inspect

from sharelm_collector.core.config import Settings
from sharelm_collector.core.db import Database
from sharelm_collector.core.migrate import current_revision, downgrade, head_revision, upgrade


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/sharelm")
    monkeypatch.setenv("SHARELM_OPERATOR_TOKEN", "op")
    monkeypatch.setenv("SHARELM_COLLECTOR_WORKERS", "4")
    s = Settings()
    assert s.database_url == "postgresql+psycopg://u:p@db:5432/sharelm"  # psycopg 3, not psycopg2
    assert s.operator_token.get_secret_value() == "op" and s.workers == 4 and not s.is_sqlite
    monkeypatch.delenv("DATABASE_URL")
    assert Settings().is_sqlite


def test_migrations_create_wal_sqlite_schema_and_downgrade(tmp_path):
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    assert current_revision(db.engine) is None
    upgrade(db.engine)
    assert current_revision(db.engine) == head_revision() == "0002"
    insp = inspect(db.engine)
    assert {"contributors", "conversations", "service_keys", "alembic_version"} <= set(insp.get_table_names())
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("conversations")}
    assert ("owner", "conversation_id") in uniques
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.dispose()
