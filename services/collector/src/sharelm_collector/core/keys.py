"""The deployment's service key: created with the schema (migration 0002), read once per process."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from sharelm_collector.models import ServiceKey


class NotMigrated(Exception):  # noqa: N818
    """The database lacks the schema this code needs (served with --no-migrate before a migration): 503."""


class ServiceKeys:
    """Reads the key on first use (the schema may not exist yet when the app is built) and keeps it."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        key = self._key
        if key is not None:
            return key
        with self._lock:
            if self._key is None:
                query = select(ServiceKey.value).where(ServiceKey.name == "service")
                try:
                    with self._engine.connect() as conn:
                        value = conn.execute(query).scalar()
                except (OperationalError, ProgrammingError) as exc:
                    if "service_keys" not in str(exc):
                        raise  # the database itself is in trouble: a 503 of its own kind
                    value = None
                if value is None:
                    raise NotMigrated("the database has no service key: run `sharelm-collector migrate`")
                self._key = bytes.fromhex(value)
            return self._key
