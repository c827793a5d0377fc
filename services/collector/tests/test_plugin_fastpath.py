"""The plugin upload's plain-ASGI path (api.fastpath, PostgreSQL) answers every request as the FastAPI route
does: two apps on one PostgreSQL database, one with the async path (fast path and group commit) and one
without (the route, in the thread pool), sent the same requests; statuses, bodies and the headers that
matter must agree, and the stored rows too."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from sharelm_collector.core.config import Settings
from sharelm_collector.core.migrate import upgrade
from sharelm_collector.devtools.samples import plugin_upload
from sharelm_collector.main import create_app

pytestmark = pytest.mark.postgres
HEADERS = ("content-type", "retry-after", "access-control-allow-origin", "www-authenticate")


def _app(url: str, *, async_path: bool, per_ip: int):
    settings = Settings(database_url=url, async_path=async_path, workers=1, rate_limit_per_ip=per_ip,
                        max_body_bytes=64 * 1024)
    app = create_app(settings)
    upgrade(app.state.db.engine)
    return app


def _requests(tag: str) -> list[tuple[str, dict]]:
    """(name, httpx keyword arguments): the hot path, and every way out of it."""
    cid = f"{tag}-conversation"  # each test has a database of its own
    body = plugin_upload(cid, user_msgs=["mail me at jane@example.com"], bot_msgs=["ok"], user_id="u-" + tag)
    as_json = {"content-type": "application/json"}
    return [
        ("new", {"json": body}),
        ("same again", {"json": body}),
        ("grown", {"json": {**body, "user_msgs": ["mail me at jane@example.com", "and more"]}}),
        ("changed", {"json": {**body, "user_msgs": ["something else"]}}),
        ("charset", {"content": json.dumps(plugin_upload(cid + "-c")),
                     "headers": {"content-type": "application/json; charset=utf-8"}}),
        ("cors", {"json": plugin_upload(cid + "-o"), "headers": {"origin": "chrome-extension://abc"}}),
        ("not json", {"content": b"{", "headers": as_json}),
        ("not utf-8", {"content": b'{"a": "\xff"}', "headers": as_json}),
        ("empty", {"content": b"", "headers": as_json}),
        ("array", {"content": b"[]", "headers": as_json}),
        ("text/plain", {"content": json.dumps(plugin_upload()), "headers": {"content-type": "text/plain"}}),
        ("wrong type", {"json": {**plugin_upload(), "bot_msgs": "no"}}),
        ("unaddressable id", {"json": plugin_upload("a/b")}),
        ("all blank", {"json": plugin_upload(user_msgs=[""], bot_msgs=[" "])}),
        ("too many messages", {"json": plugin_upload(user_msgs=["x"] * 5000)}),
        ("over the body cap", {"json": plugin_upload(user_msgs=["x" * 70_000])}),
        ("unknown token", {"json": plugin_upload(), "headers": {"authorization": "Bearer nope"}}),
        ("malformed auth", {"json": plugin_upload(), "headers": {"authorization": "Basic x"}}),
    ]


def _answers(url: str, tag: str) -> list[tuple]:
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, kwargs in _requests(tag):
            r = client.post("/api/endpoint", **kwargs)
            text = r.text.replace(tag, "TAG")
            out.append((name, r.status_code, text, {h: r.headers.get(h) for h in HEADERS}))
    return out


def test_fast_path_answers_as_the_route(pg_cluster, in_thread):
    url = pg_cluster.create_database("fast_" + uuid.uuid4().hex[:8])
    fast, route = _app(url, async_path=True, per_ip=0), _app(url, async_path=False, per_ip=0)
    with in_thread(fast) as fast_url, in_thread(route) as route_url:
        got_fast, got_route = _answers(fast_url, "fast"), _answers(route_url, "route")
    assert [a[1] for a in got_fast][:6] == [200, 200, 200, 409, 200, 200]  # the hot path did run
    for f, r in zip(got_fast, got_route, strict=True):
        assert f == r
    with fast.state.db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT conversation_id, document FROM conversations").all()
    by_tag = {tag: sorted((cid.replace(tag, "TAG"), _shape(doc, tag)) for cid, doc in stored
                          if cid.startswith(tag)) for tag in ("fast", "route")}
    assert by_tag["fast"] == by_tag["route"] and len(by_tag["fast"]) == 3  # new (then grown), charset, cors


def _shape(document: str, tag: str) -> str:
    """The stored document without what differs by app: the ids' tags and the pseudonymised user."""
    doc = json.loads(document)
    doc.pop("user_id")
    doc["conversation_id"] = doc["conversation_id"].replace(tag, "TAG")
    return json.dumps(doc, sort_keys=True)


def test_fast_path_rate_limit_answers_as_the_route(pg_cluster, in_thread):
    url = pg_cluster.create_database("fastrl_" + uuid.uuid4().hex[:8])
    fast, route = _app(url, async_path=True, per_ip=2), _app(url, async_path=False, per_ip=2)
    answers = {}
    with in_thread(fast) as fast_url, in_thread(route) as route_url:
        for name, base in (("fast", fast_url), ("route", route_url)):
            with httpx.Client(base_url=base, timeout=30) as client:
                got = [client.post("/api/endpoint", json=plugin_upload()) for _ in range(3)]
                bad = client.post("/api/endpoint", json={"user_msgs": 1})  # limited before it is read
            # The detail says how long to wait, which differs by a few milliseconds: its first part.
            answers[name] = [(r.status_code, str(r.json().get("detail")).split(";")[0],
                              r.headers.get("retry-after") is not None) for r in [*got, bad]]
    assert answers["fast"] == answers["route"]
    assert [a[0] for a in answers["fast"]] == [200, 200, 429, 429]
