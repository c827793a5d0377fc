"""Real servers for the API suite: `sharelm-collector serve` subprocesses on SQLite and on a private
PostgreSQL cluster that the tests initdb and start themselves."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from sharelm_collector.devtools.postgres import PostgresCluster, find_bindir, free_port
from sharelm_collector.devtools.server import CollectorServer

OPERATOR_TOKEN = "operator-secret-for-tests"
# Caps small enough to hit cheaply; the message caps are the sharelm schema's, read from its environment.
SERVER_ENV = {
    "SHARELM_OPERATOR_TOKEN": OPERATOR_TOKEN,
    "SHARELM_COLLECTOR_MAX_BODY_BYTES": str(256 * 1024),
    "SHARELM_COLLECTOR_MAX_BATCH": "20",
    "SHARELM_COLLECTOR_EXPORT_CHUNK": "7",  # exports cross many chunk boundaries
    "SHARELM_MAX_MESSAGES": "64",
    "SHARELM_MAX_CONTENT_CHARS": "20000",
    "SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_PER_CONTRIBUTOR": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_SIGNUPS_PER_IP": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_OPERATOR_PER_IP": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_AUTH_FAILURES_PER_IP": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_AUTH_FAILURES_PER_CREDENTIAL": "0",
}
# What the server's sharelm schema enforces (its environment above), for validating what it answers here.
SERVER_CAPS = {"max_content_chars": 20000, "max_messages": 64}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb/pg_ctl) are not installed; .ci/run installs them")
    with PostgresCluster() as cluster:
        yield cluster


def database_url(backend: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'collector.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database("c_" + uuid.uuid4().hex[:12])


class Api(httpx.Client):
    """An httpx client for one server, with the few helpers the tests repeat."""

    def __init__(self, server: CollectorServer):
        super().__init__(base_url=server.url, timeout=30.0)
        self.server = server
        self.engine = create_engine(server.database_url)
        self.caps = SERVER_CAPS  # the sharelm schema's caps in the server (for validating its answers)
        self.operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    def contributor(self) -> tuple[str, dict[str, str]]:
        r = self.post("/v1/contributors")
        assert r.status_code == 201, r.text
        body = r.json()
        return body["contributor_id"], {"Authorization": f"Bearer {body['token']}"}

    def export(self) -> list[dict]:
        r = self.get("/v1/export", headers=self.operator)
        assert r.status_code == 200, r.text
        # split("\n"), not splitlines(): U+2028 and friends are legal, unescaped, inside JSON strings.
        return [json.loads(line) for line in r.text.split("\n") if line]

    def sql(self, query: str, **params) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query), params)]


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request, tmp_path_factory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp(f"collector-{request.param}")
    server = CollectorServer(database_url(request.param, tmp, request), tmp, workers=2, env=SERVER_ENV)
    with server, Api(server) as client:
        yield client
        client.engine.dispose()


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """An app built in this process (create_app, then changed by the test) under a real uvicorn, in a
    thread: its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "in-process server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def in_thread():
    return serve_in_thread
