"""Database faults under a live server: PostgreSQL frozen (SIGSTOP) or stopped hard under load, SQLite on a
full disk. Every request is answered, and quickly: 503 with Retry-After while the database cannot take it,
never a hang, a reset or a 500; /readyz says so (and why: "timeout", "disk full"); the log says so; and the
service recovers by itself when the database does."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import event

from sharelm_collector.core.config import Settings
from sharelm_collector.core.migrate import upgrade
from sharelm_collector.devtools.postgres import PostgresCluster, find_bindir
from sharelm_collector.devtools.samples import conversation, plugin_upload
from sharelm_collector.devtools.server import CollectorServer
from sharelm_collector.main import create_app

QUIET = {f"SHARELM_COLLECTOR_RATE_LIMIT_{name}": "0" for name in (
    "PER_IP", "PER_CONTRIBUTOR", "SIGNUPS_PER_IP", "OPERATOR_PER_IP", "AUTH_FAILURES_PER_IP",
    "AUTH_FAILURES_PER_CREDENTIAL")}


@pytest.fixture
def own_cluster():
    """A PostgreSQL cluster of this test's own: it is frozen and stopped, which others must not see."""
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb/pg_ctl) are not installed; .ci/run installs them")
    with PostgresCluster() as cluster:
        yield cluster


def _timed(fn):
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


@pytest.mark.postgres
def test_a_frozen_postgres_costs_a_bounded_wait_then_503(own_cluster, tmp_path):
    url = own_cluster.create_database("frozen")
    env = {**QUIET, "SHARELM_COLLECTOR_DB_TIMEOUT_S": "2"}
    with CollectorServer(url, tmp_path, workers=2, env=env) as server, \
            httpx.Client(base_url=server.url, timeout=40) as client:
        auth = {"Authorization": f"Bearer {client.post('/v1/contributors').json()['token']}"}
        assert client.post("/v1/conversations", json=conversation(), headers=auth).status_code == 201
        own_cluster.signal(signal.SIGSTOP)
        try:
            # Bound: db_timeout (2 s) for a pooled connection's answer, or to connect, plus a second; twice
            # at most (a dead pooled connection, then a fresh one). Before: the whole freeze (30 s here).
            for _ in range(3):
                r, took = _timed(lambda: client.post("/v1/conversations", json=conversation(), headers=auth))
                assert r.status_code == 503 and "retry-after" in r.headers, r.text
                assert took < 9, f"a write waited {took:.1f} s on a frozen database"
                # The plugin's anonymous upload (group-committed on its own connection): bounded alike.
                r, took = _timed(lambda: client.post("/api/endpoint", json=plugin_upload()))
                assert r.status_code == 503 and "retry-after" in r.headers, r.text
                assert took < 9, f"a plugin upload waited {took:.1f} s on a frozen database"
                r, took = _timed(lambda: client.get("/readyz"))
                assert r.status_code == 503 and r.json()["status"] in ("timeout", "unavailable"), r.text
                assert took < 9, f"/readyz waited {took:.1f} s on a frozen database"
        finally:
            own_cluster.signal(signal.SIGCONT)
        deadline = time.monotonic() + 30  # recovery without a restart
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the database thawed"
            time.sleep(0.2)
        assert client.post("/v1/conversations", json=conversation(), headers=auth).status_code == 201
        assert client.post("/api/endpoint", json=plugin_upload()).status_code == 200
        assert "database timeout" in server.read_log()


@pytest.mark.postgres
def test_postgres_stopped_hard_under_load_answers_every_request(own_cluster, tmp_path):
    url = own_cluster.create_database("stopped")
    env = {**QUIET, "SHARELM_COLLECTOR_DB_TIMEOUT_S": "2"}
    with CollectorServer(url, tmp_path, workers=2, env=env) as server:
        token = httpx.post(server.url + "/v1/contributors").json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        stop = threading.Event()
        statuses: list[int] = []
        plugin_statuses: list[int] = []
        broken: list[str] = []

        def load() -> None:
            with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
                while not stop.is_set():
                    try:
                        statuses.append(client.post("/v1/conversations", json=conversation()).status_code)
                    except httpx.HTTPError as exc:  # a reset, a closed connection: no answer at all
                        broken.append(repr(exc))

        def plugin_load() -> None:  # anonymous uploads: group-committed on PostgreSQL
            with httpx.Client(base_url=server.url, timeout=30) as client:
                while not stop.is_set():
                    try:
                        plugin_statuses.append(client.post("/api/endpoint", json=plugin_upload()).status_code)
                    except httpx.HTTPError as exc:
                        broken.append(repr(exc))

        threads = [threading.Thread(target=load) for _ in range(6)]
        threads += [threading.Thread(target=plugin_load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            own_cluster.stop_server("immediate")
            time.sleep(3.0)
            own_cluster.start_server()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (len(statuses) < 5 or statuses[-1] != 201
                                                   or not plugin_statuses or plugin_statuses[-1] != 200):
                time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not broken, broken[:5]
        assert set(statuses) <= {201, 503}, sorted(set(statuses))
        assert 503 in statuses and statuses[-1] == 201  # failed while it was down, recovered by itself
        assert set(plugin_statuses) <= {200, 503}, sorted(set(plugin_statuses))
        assert 503 in plugin_statuses and plugin_statuses[-1] == 200
        assert httpx.get(server.url + "/readyz").status_code == 200
        assert "Traceback" not in server.read_log()


# --- SQLite on a full disk ---------------------------------------------------------------------------------


def _tmpfs(path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def _fill(path) -> None:
    """Write a file until the file system is full."""
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_sqlite_on_a_full_disk_says_so(tmp_path):
    """A real full file system (a small tmpfs: needs root, as in CI); test_sqlite_full_database_... below runs
    the same path everywhere, with SQLite's own size cap."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "8m"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        env = {**QUIET, "SHARELM_COLLECTOR_MIN_FREE_DISK_BYTES": str(256 * 1024)}
        server = CollectorServer(f"sqlite:///{disk / 'db.sqlite'}", tmp_path / "work", workers=1, env=env)
        with server, httpx.Client(base_url=server.url, timeout=30) as client:
            auth = {"Authorization": f"Bearer {client.post('/v1/contributors').json()['token']}"}
            _fill(disk / "filler")
            r = client.post("/v1/conversations", json=conversation(text="x" * 50_000), headers=auth)
            assert r.status_code == 503 and "disk full" in r.json()["detail"] and "retry-after" in r.headers
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "disk full"
            assert "database disk full" in server.read_log()
            (disk / "filler").unlink()  # space again: ready, and writes succeed
            assert client.get("/readyz").status_code == 200
            assert client.post("/v1/conversations", json=conversation(), headers=auth).status_code == 201
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_sqlite_full_database_is_503_disk_full_logged_and_not_ready(tmp_path, caplog, in_thread):
    """SQLITE_FULL ("database or disk is full"), made with SQLite's page cap instead of a full disk."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", rate_limit_per_ip=0,
                        rate_limit_per_contributor=0, rate_limit_signups_per_ip=0, workers=1,
                        rate_limit_auth_failures_per_ip=0, rate_limit_auth_failures_per_credential=0)
    app = create_app(settings)
    db = app.state.db
    upgrade(db.engine)
    cap = {"pages": 1_000_000}

    @event.listens_for(db.engine, "connect")
    def _page_cap(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA max_page_count={cap['pages']}")

    db.engine.dispose()
    with in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client, \
            caplog.at_level(logging.INFO, logger="sharelm_collector"):
        auth = {"Authorization": f"Bearer {client.post('/v1/contributors').json()['token']}"}
        with db.engine.connect() as conn:
            cap["pages"] = conn.exec_driver_sql("PRAGMA page_count").scalar()
        db.engine.dispose()  # reconnect with the cap: the database cannot grow any more
        r = client.post("/v1/conversations", json=conversation(text="y" * 150_000), headers=auth)
        assert r.status_code == 503 and "disk full" in r.json()["detail"], r.text
        assert any("database disk full" in rec.getMessage() for rec in caplog.records)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "disk full"
        cap["pages"] = 1_000_000  # room again: a write succeeds, and readiness follows
        db.engine.dispose()
        assert client.get("/readyz").status_code == 200  # its write probe succeeds
        r = client.post("/v1/conversations", json=conversation(uuid.uuid4().hex), headers=auth)
        assert r.status_code == 201
