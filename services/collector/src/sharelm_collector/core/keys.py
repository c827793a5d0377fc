"""The deployment's service key: created with the schema (migration 0002), read once per process."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select

from sharelm_collector.models import ServiceKey


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
                with self._engine.connect() as conn:
                    query = select(ServiceKey.value).where(ServiceKey.name == "service")
                    value = conn.execute(query).scalar()
                if value is None:
                    raise RuntimeError("the database has no service key: run `sharelm-collector migrate`")
                self._key = bytes.fromhex(value)
            return self._key
