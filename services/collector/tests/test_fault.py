"""SIGKILL mid-load: concurrent uploaders on loopback, the whole server process group killed without warning,
then restarted on the same database. Every acknowledged conversation must be there exactly once and intact;
an unacknowledged one may be there (committed, answer lost) or not, but never half-stored."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from sharelm import Conversation
from sharelm_collector.devtools.samples import conversation, plugin_upload
from sharelm_collector.devtools.server import CollectorServer

UPLOADERS = 12
KILL_AFTER_ACKS = 150
# 12 uploaders from one address would spend the per-address limit before the kill.
NO_LIMITS = {"SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "0"}


def upload_until_failure(url: str, auth: dict, prefix: str, acked: list, in_doubt: list, refused: list,
                         stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers=auth, timeout=10.0) as client:
        for i in range(100_000):
            if stop.is_set():
                return
            conv = conversation(f"{prefix}-{i}", turns=1 + i % 3, text=f"{prefix}-{i}")
            try:
                r = client.post("/v1/conversations", json=conv)
            except httpx.HTTPError:
                in_doubt.append(conv)  # sent, no answer: the server may or may not have committed it
                return
            if r.status_code != 201:  # asserted in the main thread: a thread's assert fails nothing
                refused.append((r.status_code, r.text[:200]))
                return
            acked.append(conv)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_loses_nothing_acknowledged(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fault.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").create_database("fault_" + uuid.uuid4().hex[:8])
    server = CollectorServer(url, tmp_path, workers=2).start()
    try:
        token = httpx.post(server.url + "/v1/contributors").json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        acked, in_doubt = kill_mid_load(
            server, lambda n, *out: upload_until_failure(server.url, auth, f"u{n}", *out))

        server.start(migrate=False)  # same port, same database
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT conversation_id, document FROM conversations")).all()
        engine.dispose()
        stored = [cid for cid, _ in rows]
        assert len(stored) == len(set(stored)), "a conversation was stored twice"
        sent = {c["conversation_id"]: c for c in acked + in_doubt}
        assert set(stored) <= set(sent), "something nobody sent was stored"
        missing = {c["conversation_id"] for c in acked} - set(stored)
        assert not missing, f"{len(missing)} acknowledged conversations lost"
        for cid, document in rows:  # every stored row is whole: exactly what was sent
            got = Conversation.model_validate_json(document)
            assert [m.content for m in got.conversation] == [m["content"] for m in sent[cid]["conversation"]]

        # The restarted server answers, and re-sending the in-doubt ones converges without duplicates.
        with httpx.Client(base_url=server.url, headers=auth, timeout=10.0) as client:
            for conv in in_doubt:
                r = client.post("/v1/conversations", json=conv)
                assert r.status_code in (200, 201)
                assert r.json()["status"] == ("replaced" if conv["conversation_id"] in stored else "created")
            listed, cursor = [], None
            while True:
                page = client.get("/v1/conversations", params={"limit": 500, **({"cursor": cursor} if cursor
                                                                                else {})}).json()
                listed += [c["conversation_id"] for c in page["conversations"]]
                if not (cursor := page["next_cursor"]):
                    break
        assert sorted(listed) == sorted(sent)

        if backend == "postgres":  # the database vanishing under a live server: 503s, never a 500
            cluster = request.getfixturevalue("pg_cluster")
            dbname = url.rsplit("/", 1)[1]
            with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres",
                                 autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
            r = httpx.post(server.url + "/v1/conversations", json=conversation(), headers=auth)
            assert r.status_code == 503 and "retry" in r.json()["detail"]
            assert httpx.get(server.url + "/readyz").status_code == 503
    finally:
        server.stop()


# --- the public plugin's anonymous uploads: on PostgreSQL these are group-committed (core.groupcommit) ------


def plugin_uploads_until_failure(url: str, prefix: str, acked: list, in_doubt: list, refused: list,
                                 stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for i in range(100_000):
            if stop.is_set():
                return
            body = plugin_upload(f"{prefix}-{i}", user_msgs=[f"{prefix}-{i} question"],
                                 bot_msgs=[f"answer {i}"], user_id=f"plugin-{prefix}")
            try:
                r = client.post("/api/endpoint", json=body)
            except httpx.HTTPError:
                in_doubt.append(body)
                return
            if r.status_code != 200 or r.json()["conversation_id"] != body["conversation_id"]:
                refused.append((r.status_code, r.text[:200]))
                return
            acked.append(body)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_loses_no_acknowledged_plugin_upload(backend, tmp_path, request):
    """Anonymous plugin uploads, grouped into shared commits on PostgreSQL: each acknowledged one is stored
    exactly once and whole after a SIGKILL mid-load, and re-sending the unanswered ones adds no duplicate."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fault.db'}"
    else:
        url = request.getfixturevalue("pg_cluster").create_database("pfault_" + uuid.uuid4().hex[:8])
    server = CollectorServer(url, tmp_path, workers=2, env=NO_LIMITS).start()
    try:
        acked, in_doubt = kill_mid_load(
            server, lambda n, *out: plugin_uploads_until_failure(server.url, f"p{n}", *out))

        server.start(migrate=False)
        sent = {b["conversation_id"]: b for b in acked + in_doubt}
        rows = _stored(url)
        stored = [cid for cid, _ in rows]
        assert len(stored) == len(set(stored)), "an upload was stored twice"
        assert set(stored) <= set(sent), "something nobody sent was stored"
        missing = {b["conversation_id"] for b in acked} - set(stored)
        assert not missing, f"{len(missing)} acknowledged uploads lost"
        for cid, document in rows:
            got = Conversation.model_validate_json(document)
            assert [m.content for m in got.conversation] == [*sent[cid]["user_msgs"], *sent[cid]["bot_msgs"]]

        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            for body in in_doubt:  # the plugin's retry: the same upload again
                assert client.post("/api/endpoint", json=body).status_code == 200
        after = [cid for cid, _ in _stored(url)]
        assert sorted(after) == sorted(sent)
    finally:
        server.stop()


def kill_mid_load(server: CollectorServer, uploader) -> tuple[list[dict], list[dict]]:
    """UPLOADERS threads run `uploader(n, acked, in_doubt, refused, stop)`; the server is SIGKILLed once
    KILL_AFTER_ACKS uploads are acknowledged. Returns (acknowledged, unanswered) bodies."""
    acked: list[dict] = []
    in_doubt: list[dict] = []
    refused: list[tuple[int, str]] = []
    stop = threading.Event()
    threads = [threading.Thread(target=uploader, args=(n, acked, in_doubt, refused, stop))
               for n in range(UPLOADERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for t in threads:
        t.join(15)
    assert not refused, refused
    assert len(acked) >= KILL_AFTER_ACKS, "the load never got going"
    return acked, in_doubt


def _stored(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT conversation_id, document FROM conversations"))
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()
