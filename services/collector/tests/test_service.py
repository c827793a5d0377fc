"""The service around the routes: an unexpected error is a 500 that leaves the keep-alive connection usable,
/readyz tells an unauthenticated caller nothing about where the database is, `serve` says what it serves,
and migration 0002 rewrites the rows older versions stored (raw plugin user ids, shared blank owners,
token holders' uploads filed under another id)."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from urllib.parse import urlsplit

import httpx
from sqlalchemy import event, insert, select
from sqlalchemy.exc import OperationalError

from sharelm_collector.core.config import Settings
from sharelm_collector.core.db import Database
from sharelm_collector.core.keys import ServiceKeys
from sharelm_collector.core.migrate import upgrade
from sharelm_collector.core.security import plugin_pseudonym
from sharelm_collector.devtools.postgres import free_port
from sharelm_collector.devtools.samples import plugin_upload
from sharelm_collector.devtools.server import CollectorServer
from sharelm_collector.main import create_app
from sharelm_collector.models import Contributor, StoredConversation, utcnow


def test_a_500_leaves_the_keep_alive_connection_usable(tmp_path, in_thread):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", workers=1)
    app = create_app(settings)
    upgrade(app.state.db.engine)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    with in_thread(app) as url:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", "/boom")
        r = conn.getresponse()
        assert r.status == 500 and json.loads(r.read()) == {"detail": "internal error; it is logged"}
        assert r.getheader("connection") != "close"
        conn.request("GET", "/healthz")  # the same connection
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
        conn.close()


def test_a_failed_rollback_after_the_answer_is_no_reset(tmp_path, in_thread):
    """The database went away right after a read was answered (pg_ctl stop -m immediate under load): the
    read's transaction is rolled back after its response is sent, and that rollback fails too. It is logged,
    not raised (raised after the response, it made uvicorn close the connection under the next request)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", workers=1,
                        rate_limit_auth_failures_per_ip=0, rate_limit_auth_failures_per_credential=0)
    app = create_app(settings)
    db = app.state.db
    upgrade(db.engine)
    broken = {"on": False}

    for engine in {db.engine, db.read_engine}:
        @event.listens_for(engine, "rollback")
        def _rollback_fails(_conn):
            if broken["on"]:
                raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    with in_thread(app) as url:
        token = httpx.post(url + "/v1/contributors").json()["token"]
        httpx.get(url + "/v1/conversations", headers={"Authorization": f"Bearer {token}"})  # warmed up
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        broken["on"] = True
        for _ in range(3):  # answered, and the same connection still serves the next request
            conn.request("GET", "/v1/conversations", headers={"Authorization": f"Bearer {token}"})
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["conversations"] == []
        broken["on"] = False
        conn.close()


def test_readyz_tells_no_host_port_or_driver_message(tmp_path):
    port = free_port()  # nothing listens there
    url = f"postgresql://secret_user:secret_pw@127.0.0.1:{port}/secret_db"
    server = CollectorServer(url, tmp_path, workers=1, env={"SHARELM_COLLECTOR_DB_TIMEOUT_S": "2"})
    server.start(migrate=False, wait="up")
    try:
        r = httpx.get(server.url + "/readyz", timeout=30)
        assert r.status_code == 503 and r.json()["status"] == "unavailable" and "retry-after" in r.headers
        for secret in (str(port), "127.0.0.1", "secret_user", "secret_pw", "secret_db", "connect"):
            assert secret not in r.text, (secret, r.text)
        deadline = time.monotonic() + 10  # the details go to the log, for the operator
        while f"{port}" not in server.read_log():
            assert time.monotonic() < deadline, server.read_log()
            time.sleep(0.1)
        assert "secret_pw" not in server.read_log()
    finally:
        server.stop()


def test_serve_says_where_it_listens_which_database_and_how_many_workers(tmp_path):
    db = tmp_path / "banner.db"
    with CollectorServer(f"sqlite:///{db}", tmp_path, workers=2) as server:
        log = server.read_log()
    first = log.splitlines()[0]
    assert f"listening on http://127.0.0.1:{server.port}" in first and "2 workers" in first, log
    assert str(db) in first and "revision 0002" in first, first
    url = "postgresql://someone:hunter2@db.internal/prod"
    assert "hunter2" not in _banner(url, tmp_path)


def _banner(url: str, tmp_path) -> str:
    """serve's first line for a database it cannot reach (printed before uvicorn starts)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import sys; from sharelm_collector.cli import app; "
         "import uvicorn; uvicorn.run = lambda *a, **k: None; app(['serve', '--no-migrate'])"],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, cwd=tmp_path,
        timeout=60)
    assert done.returncode == 0, done.stderr
    assert "listening on" in done.stdout and "***" in done.stdout, done.stdout
    return done.stdout


def test_a_database_behind_the_code_is_503_not_500(tmp_path):
    """Served with --no-migrate on a database one revision behind: not ready, and uploads are 503s."""
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    db = Database(Settings(database_url=url))
    upgrade(db.engine, "0001")
    db.dispose()
    server = CollectorServer(url, tmp_path, workers=1)
    server.start(migrate=False, wait="up")
    try:
        r = httpx.post(server.url + "/api/endpoint", json=plugin_upload())
        assert r.status_code == 503 and "not migrated" in r.json()["detail"], r.text
        r = httpx.get(server.url + "/readyz")
        assert r.status_code == 503 and r.json() == {"status": "not migrated", "database": "sqlite",
                                                     "revision": "0001"}
    finally:
        server.stop()


def test_migration_0002_rewrites_what_older_versions_stored(tmp_path):
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'legacy.db'}"))
    upgrade(db.engine, "0001")
    t = StoredConversation.__table__

    def row(owner, contributor_id, cid, user_id):
        doc = {"conversation_id": cid, "conversation": [{"role": "user", "content": "hi"}],
               "user_id": user_id}
        now = utcnow()
        return {"owner": owner, "contributor_id": contributor_id, "conversation_id": cid,
                "document": json.dumps(doc), "version": 1, "created_at": now, "updated_at": now}

    def p(user_id: str) -> str:
        return "p:" + hashlib.sha256(user_id.encode()).hexdigest()

    with db.engine.begin() as conn:
        conn.execute(insert(Contributor.__table__).values(id="bob", token_hash="h", created_at=utcnow()))
        conn.execute(insert(t), [row(p("plugin-user-7"), None, "anon", "plugin-user-7"),
                                 row(p(""), None, "blank-1", ""), row(p(""), None, "blank-2", None),
                                 row("c:bob", "bob", "forged", "alice")])
    upgrade(db.engine)
    key = ServiceKeys(db.engine).get()
    with db.engine.connect() as conn:
        stored = {cid: (owner, json.loads(doc)) for cid, owner, doc in
                  conn.execute(select(t.c.conversation_id, t.c.owner, t.c.document))}
    assert stored["anon"] == (p("plugin-user-7"), {**stored["anon"][1],
                                                   "user_id": plugin_pseudonym(key, "plugin-user-7")})
    assert "plugin-user-7" not in json.dumps(stored)
    blank_owners = {stored["blank-1"][0], stored["blank-2"][0]}
    assert len(blank_owners) == 2 and p("") not in blank_owners  # no longer one shared owner
    assert stored["blank-1"][1]["user_id"] is None
    assert stored["forged"][1]["user_id"] == "bob"
    db.dispose()
