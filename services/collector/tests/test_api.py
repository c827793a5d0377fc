"""The API against real servers, on SQLite and on PostgreSQL (the `api` fixture is parametrized)."""

from __future__ import annotations

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from sharelm import Conversation
from sharelm_collector.devtools.samples import conversation, plugin_upload

PII = "jane.doe@example.com"


# --- the public plugin's route -------------------------------------------------------------------------


def test_plugin_upload_answer_is_the_public_one(api):
    body = plugin_upload(user_msgs=["my mail is " + PII], bot_msgs=["noted"])
    r = api.post("/api/endpoint", json=body)
    assert r.status_code == 200
    expected = {"message": "Conversation saved successfully", "conversation_id": body["conversation_id"]}
    assert r.json() == expected
    [row] = [c for c in api.export() if c["conversation_id"] == body["conversation_id"]]
    assert row["source"] == "share_lm_plugin"
    assert row["conversation"][0]["content"] != body["user_msgs"][0]  # redacted
    assert row["conversation_metadata"]["extra"]["page_url"] == "https://chat.example.com/c/123"
    assert row["conversation_metadata"]["rate"] == "thumbup"


def test_plugin_resend_replaces_instead_of_duplicating(api):
    body = plugin_upload(user_msgs=["one"], bot_msgs=["two"])
    assert api.post("/api/endpoint", json=body).status_code == 200
    grown = {**body, "user_msgs": ["one", "three"], "bot_msgs": ["two", "four"],
             "conversation_metadata": {"message_ratings": [1, 0]}}
    assert api.post("/api/endpoint", json=grown).status_code == 200
    rows = [c for c in api.export() if c["conversation_id"] == body["conversation_id"]]
    assert len(rows) == 1
    assert [m["content"] for m in rows[0]["conversation"]] == ["one", "two", "three", "four"]


def test_plugin_missing_and_wrong_fields_are_422_naming_them(api):
    """(A body that is not JSON at all is a 400: test_bodies_that_are_not_json_are_400.)"""
    body = plugin_upload()
    del body["user_msgs"]
    r = api.post("/api/endpoint", json=body)
    assert r.status_code == 422
    assert ["body", "user_msgs"] in [e["loc"] for e in r.json()["detail"]]
    r = api.post("/api/endpoint", json={**plugin_upload(), "bot_msgs": "not a list"})
    assert r.status_code == 422 and any("bot_msgs" in e["loc"] for e in r.json()["detail"])
    r = api.post("/api/endpoint", json=plugin_upload(user_msgs=[""], bot_msgs=[""]))
    assert r.status_code == 422 and "empty" in r.text


def test_validation_errors_do_not_echo_the_input(api):
    body = {**plugin_upload(), "bot_msgs": PII}  # wrong type, carrying PII
    r = api.post("/api/endpoint", json=body)
    assert r.status_code == 422
    assert PII not in r.text


def test_plugin_cors_preflight_for_extensions(api):
    r = api.options("/api/endpoint", headers={
        "Origin": "chrome-extension://abcdefghijklmnop",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    })
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "chrome-extension://abcdefghijklmnop")


def test_plugin_upload_with_a_token_belongs_to_the_contributor(api):
    _, auth = api.contributor()
    body = plugin_upload()
    assert api.post("/api/endpoint", json=body, headers=auth).status_code == 200
    r = api.get(f"/v1/conversations/{body['conversation_id']}", headers=auth)
    assert r.status_code == 200 and r.json()["source"] == "share_lm_plugin"
    bad = api.post("/api/endpoint", json=plugin_upload(), headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


# --- contributors and conversations --------------------------------------------------------------------


def test_tokens_are_stored_hashed(api):
    r = api.post("/v1/contributors")
    assert r.status_code == 201
    cid, token = r.json()["contributor_id"], r.json()["token"]
    [(stored,)] = api.sql("SELECT token_hash FROM contributors WHERE id = :id", id=cid)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert not api.sql("SELECT 1 FROM contributors WHERE token_hash = :t", t=token)


def test_auth_is_required(api):
    assert api.get("/v1/conversations").status_code == 401
    assert api.post("/v1/conversations", json=conversation()).status_code == 401
    r = api.get("/v1/conversations", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert api.delete("/v1/contributors/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_create_then_replace_is_idempotent(api):
    contributor_id, auth = api.contributor()
    conv = conversation(turns=1)
    r = api.post("/v1/conversations", json=conv, headers=auth)
    assert r.status_code == 201
    assert r.json() == {"conversation_id": conv["conversation_id"], "status": "created"}
    grown = conversation(conv["conversation_id"], turns=2)
    r = api.post("/v1/conversations", json=grown, headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "replaced"
    got = api.get(f"/v1/conversations/{conv['conversation_id']}", headers=auth).json()
    assert len(got["conversation"]) == 4
    assert got["user_id"] == contributor_id  # the owner, whatever the client claimed
    rows = api.sql("SELECT version FROM conversations WHERE conversation_id = :c", c=conv["conversation_id"])
    assert rows == [(2,)]


def test_concurrent_reposts_store_one_row(api):
    """The upsert is one atomic statement: racing re-posts of one conversation never duplicate it."""
    _, auth = api.contributor()
    cid = uuid.uuid4().hex

    def post(i: int) -> str:
        with httpx.Client(base_url=api.server.url, headers=auth, timeout=30) as client:
            return client.post("/v1/conversations", json=conversation(cid, turns=1 + i % 3)).json()["status"]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(32)))
    assert statuses.count("created") == 1 and statuses.count("replaced") == 31
    assert api.sql("SELECT version FROM conversations WHERE conversation_id = :c", c=cid) == [(32,)]


def test_messages_are_redacted_before_they_reach_the_database(api):
    _, auth = api.contributor()
    conv = conversation(text=f"write to {PII} or call +1 415 555 0134, card 4111 1111 1111 1111")
    assert api.post("/v1/conversations", json=conv, headers=auth).status_code == 201
    [(document,)] = api.sql("SELECT document FROM conversations WHERE conversation_id = :c",
                            c=conv["conversation_id"])
    assert PII not in document and "4111 1111 1111 1111" not in document
    stored = Conversation.model_validate_json(document)
    assert stored.conversation_metadata.redacted == "True"
    assert stored.conversation_metadata.extra["redactions"]["email"] == 1


def test_unknown_fields_are_dropped(api):
    _, auth = api.contributor()
    conv = conversation()
    conv["smuggled"] = "top"
    conv["conversation"][0]["smuggled"] = "nested"
    conv["user_metadata"] = {"age": "40", "smuggled": "meta"}
    assert api.post("/v1/conversations", json=conv, headers=auth).status_code == 201
    [(document,)] = api.sql("SELECT document FROM conversations WHERE conversation_id = :c",
                            c=conv["conversation_id"])
    assert "smuggled" not in document


def test_odd_but_valid_values_are_stored(api):
    """Text PostgreSQL would refuse in a plain column (NUL) or that is longer than a column allows."""
    _, auth = api.contributor()
    conv = {**conversation(), "source": "s\u0000" + "x" * 300, "model_name": "m\u0000"}
    text = "nul \u0000 and \u2028 separator"
    conv["conversation"][0]["content"] = text
    assert api.post("/v1/conversations", json=conv, headers=auth).status_code == 201
    got = api.get(f"/v1/conversations/{conv['conversation_id']}", headers=auth).json()
    assert got["source"] == conv["source"] and got["conversation"][0]["content"] == text
    cid = conv["conversation_id"]
    stored = api.sql("SELECT source FROM conversations WHERE conversation_id = :c", c=cid)
    assert stored == [("s" + "x" * 63,)]


def test_strict_validation(api):
    _, auth = api.contributor()
    for bad in (
        {**conversation(), "conversation": []},
        {**conversation(), "conversation": [{"role": "wizard", "content": "x"}]},
        {**conversation(), "conversation_id": "  "},
        {**conversation(), "conversation_id": "x" * 300},
        {**conversation(), "conversation_id": "a\u0000b"},
        {**conversation(), "conversation_metadata": {"message_ratings": [1, 1]}},  # one assistant turn
    ):
        r = api.post("/v1/conversations", json=bad, headers=auth)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"][0] == "body"
    lone_surrogate = b'{"conversation": [{"role": "user", "content": "a\\ud800b"}]}'
    json_headers = {**auth, "content-type": "application/json"}
    r = api.post("/v1/conversations", content=lone_surrogate, headers=json_headers)
    assert r.status_code == 422 and "Unicode" in r.text
    for path in ("a%00b", "%01", "z" * 300):  # control characters: PostgreSQL text rejects NUL
        assert api.get(f"/v1/conversations/{path}", headers=auth).status_code == 422
        assert api.delete(f"/v1/conversations/{path}", headers=auth).status_code == 422


def test_batch_is_atomic_and_reports_each(api):
    _, auth = api.contributor()
    a, b = conversation(), conversation()
    r = api.post("/v1/conversations/batch", json={"conversations": [a, b, a]}, headers=auth)
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["created", "created", "replaced"]
    c = conversation()
    bad = {**conversation(), "conversation_id": "y" * 300}
    r = api.post("/v1/conversations/batch", json={"conversations": [c, bad]}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == ["body", "conversations", 1]
    assert api.get(f"/v1/conversations/{c['conversation_id']}", headers=auth).status_code == 404


def test_list_is_own_and_paginated(api):
    _, auth = api.contributor()
    ids = [api.post("/v1/conversations", json=conversation(), headers=auth).json()["conversation_id"]
           for _ in range(5)]
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/conversations", params=params, headers=auth).json()
        seen += [c["conversation_id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    assert api.get("/v1/conversations", params={"cursor": "abc"}, headers=auth).status_code == 422
    assert api.get("/v1/conversations", params={"limit": 0}, headers=auth).status_code == 422


def test_rating(api):
    _, auth = api.contributor()
    conv = conversation(turns=2)
    api.post("/v1/conversations", json=conv, headers=auth)
    url = f"/v1/conversations/{conv['conversation_id']}/rating"
    r = api.patch(url, json={"rate": "thumbdown", "message_ratings": [1, -1]}, headers=auth)
    assert r.status_code == 200
    got = api.get(f"/v1/conversations/{conv['conversation_id']}", headers=auth).json()
    meta = got["conversation_metadata"]
    assert meta["rate"] == "thumbdown" and meta["message_ratings"] == [1, -1]
    r = api.patch(url, json={"rate": None}, headers=auth)
    assert r.json()["conversation_metadata"] == {**meta, "rate": None}
    assert api.patch(url, json={"message_ratings": [1, 1, 1]}, headers=auth).status_code == 422
    assert api.patch(url, json={"rate": "meh"}, headers=auth).status_code == 422
    assert api.patch(url, json={"message_ratings": [2]}, headers=auth).status_code == 422
    missing = api.patch("/v1/conversations/nope/rating", json={"rate": "thumbup"}, headers=auth)
    assert missing.status_code == 404


def test_delete_is_real(api):
    _, auth = api.contributor()
    conv = conversation(text="delete me " + uuid.uuid4().hex)
    api.post("/v1/conversations", json=conv, headers=auth)
    url = f"/v1/conversations/{conv['conversation_id']}"
    assert api.delete(url, headers=auth).status_code == 204
    assert api.get(url, headers=auth).status_code == 404
    assert api.delete(url, headers=auth).status_code == 404
    assert not api.sql("SELECT 1 FROM conversations WHERE conversation_id = :c", c=conv["conversation_id"])
    assert conv["conversation_id"] not in {c["conversation_id"] for c in api.export()}


def test_erase_me_removes_everything_and_the_token(api):
    contributor_id, auth = api.contributor()
    ids = {conversation()["conversation_id"] for _ in range(3)}
    for cid in ids:
        api.post("/v1/conversations", json=conversation(cid), headers=auth)
    api.post("/api/endpoint", json=plugin_upload(), headers=auth)
    r = api.delete("/v1/contributors/me", headers=auth)
    assert r.status_code == 200 and r.json() == {"deleted_conversations": 4}
    assert api.get("/v1/conversations", headers=auth).status_code == 401
    assert not api.sql("SELECT 1 FROM conversations WHERE contributor_id = :c", c=contributor_id)
    assert not api.sql("SELECT 1 FROM contributors WHERE id = :c", c=contributor_id)
    assert not ids & {c["conversation_id"] for c in api.export()}


def test_export_needs_the_operator_token(api):
    assert api.get("/v1/export").status_code == 401
    assert api.get("/v1/export", headers={"Authorization": "Bearer wrong"}).status_code == 403
    _, auth = api.contributor()
    assert api.get("/v1/export", headers=auth).status_code == 403
    api.post("/v1/conversations", json=conversation(), headers=auth)
    rows = api.export()
    assert rows and all(Conversation.model_validate(r) for r in rows)


# --- caps, health, metrics, schema ---------------------------------------------------------------------


def test_caps_are_413(api):
    _, auth = api.contributor()
    huge = conversation(text="x" * (300 * 1024))  # over the 256 KiB body cap
    r = api.post("/v1/conversations", json=huge, headers=auth)
    assert r.status_code == 413 and "cap" in r.json()["detail"]
    r = api.post("/api/endpoint", json=plugin_upload(user_msgs=["x" * (300 * 1024)]),
                 headers={"Origin": "chrome-extension://abc"})
    assert r.status_code == 413 and r.headers["access-control-allow-origin"] == "*"  # the extension reads it
    long_message = conversation(text="y" * 25_000)  # over SHARELM_MAX_CONTENT_CHARS=20000
    assert api.post("/v1/conversations", json=long_message, headers=auth).status_code == 413
    many = conversation(turns=40)  # 80 messages, over SHARELM_MAX_MESSAGES=64
    assert api.post("/v1/conversations", json=many, headers=auth).status_code == 413
    batch = {"conversations": [conversation() for _ in range(21)]}  # over MAX_BATCH=20
    assert api.post("/v1/conversations/batch", json=batch, headers=auth).status_code == 413
    chunked = api.post("/v1/conversations", content=iter([json.dumps(huge).encode()]),
                       headers={**auth, "content-type": "application/json"})
    assert chunked.status_code == 413


def test_health_readiness_metrics_openapi(api):
    assert api.get("/healthz").json() == {"status": "ok", "database": None, "revision": None}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ok" and ready["revision"] == "0002"
    api.post("/api/endpoint", json=plugin_upload())
    metrics = api.get("/metrics").text
    assert 'sharelm_http_requests_total{method="POST",route="/api/endpoint",status="200"}' in metrics
    assert "sharelm_conversations_stored_total" in metrics
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/endpoint", "/v1/contributors", "/v1/contributors/me", "/v1/conversations",
                 "/v1/conversations/batch", "/v1/conversations/{conversation_id}",
                 "/v1/conversations/{conversation_id}/rating", "/v1/export"):
        assert path in paths
