"""Nobody touches what is not theirs, and every stored row stays readable, on SQLite and PostgreSQL:
anonymous plugin uploads cannot be overwritten (a re-post only extends; a blank user id matches nothing;
the export publishes a keyed pseudonym, which gives no way in), a token holder's upload is always theirs,
every storable id is addressable, cursors are opaque and checked, erasures leave no text behind in SQLite's
files, and an export skips (and reports) a stored row that fails the schema instead of aborting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sharelm import Conversation
from sharelm_collector.devtools.samples import conversation, plugin_upload


def _rows(api, cid: str) -> list[dict]:
    return [c for c in api.export() if c["conversation_id"] == cid]


def _anonymous(user_id, cid=None, user_msgs=("hi",), bot_msgs=("hello",)) -> dict:
    return {**plugin_upload(cid, user_msgs=user_msgs, bot_msgs=bot_msgs), "user_id": user_id}


# --- anonymous plugin uploads ----------------------------------------------------------------------------


def test_an_anonymous_repost_may_only_extend(api):
    user = "plugin-user-" + uuid.uuid4().hex
    first = _anonymous(user, user_msgs=["my secret question"], bot_msgs=["the answer"])
    assert api.post("/api/endpoint", json=first).status_code == 200
    cid = first["conversation_id"]
    # Someone who knows (user_id, conversation_id) tries to replace the conversation: refused, unchanged.
    for forged in (
        _anonymous(user, cid, user_msgs=["attacker text"], bot_msgs=["the answer"]),
        _anonymous(user, cid, user_msgs=["my secret question"], bot_msgs=["another answer"]),
        _anonymous(user, cid, user_msgs=["my secret question"], bot_msgs=[]),  # shorter
    ):
        r = api.post("/api/endpoint", json=forged)
        assert r.status_code == 409 and "only add" in r.json()["detail"], r.text
    [row] = _rows(api, cid)
    assert [m["content"] for m in row["conversation"]] == ["my secret question", "the answer"]
    # The plugin's own re-send of the grown conversation (its last message read while still being written,
    # then new turns) is taken.
    grown = _anonymous(user, cid, user_msgs=["my secret question", "and then?"],
                       bot_msgs=["the answer, in full", "then this"])
    grown["conversation_metadata"] = {"message_ratings": [1, 0], "rate": "thumbdown"}
    assert api.post("/api/endpoint", json=grown).status_code == 200
    [row] = _rows(api, cid)
    assert [m["content"] for m in row["conversation"]] == [
        "my secret question", "the answer, in full", "and then?", "then this"]
    assert row["conversation_metadata"]["rate"] == "thumbdown"
    assert api.post("/api/endpoint", json=grown).status_code == 200  # the same again: idempotent
    assert len(_rows(api, cid)) == 1


def _set_document(api, where: str, value: str, document: dict) -> None:
    with api.engine.begin() as conn:
        conn.execute(text(f"UPDATE conversations SET document = :d WHERE {where} = :v"),
                     {"d": json.dumps(document), "v": value})


def test_a_repost_redacted_by_newer_rules_still_extends(api):
    """What was stored is compared as today's rules would redact it."""
    user = "plugin-user-" + uuid.uuid4().hex
    first = _anonymous(user, user_msgs=["write to jane.doe@example.com"], bot_msgs=["hello"])
    assert api.post("/api/endpoint", json=first).status_code == 200
    cid = first["conversation_id"]
    [(document,)] = api.sql("SELECT document FROM conversations WHERE conversation_id = :c", c=cid)
    doc = json.loads(document)
    doc["conversation"][0]["content"] = "write to jane.doe@example.com"  # as if stored before the e-mail rule
    _set_document(api, "conversation_id", cid, doc)
    again = _anonymous(user, cid, user_msgs=["write to jane.doe@example.com", "more"],
                       bot_msgs=["hello", "b"])
    r = api.post("/api/endpoint", json=again)
    assert r.status_code == 200, r.text
    [row] = _rows(api, cid)
    assert [m["content"] for m in row["conversation"]] == ["write to [REDACTED_EMAIL]", "hello", "more", "b"]


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_uploads_without_a_user_id_never_match_another(api, blank):
    cid = str(uuid.uuid4())
    for said in ("first person's", "second person's"):
        body = _anonymous(blank, cid, user_msgs=[said], bot_msgs=["ok"])
        if blank is None:
            del body["user_id"]
        assert api.post("/api/endpoint", json=body).status_code == 200
    rows = _rows(api, cid)
    assert sorted(r["conversation"][0]["content"] for r in rows) == ["first person's", "second person's"]
    assert all(r["user_id"] is None for r in rows)


def test_the_export_publishes_a_pseudonym_that_gives_no_way_in(api):
    user = "plugin-user-" + uuid.uuid4().hex
    bodies = [_anonymous(user, user_msgs=[f"mine {i}"]) for i in range(2)]
    for body in bodies:
        assert api.post("/api/endpoint", json=body).status_code == 200
    rows = [r for b in bodies for r in _rows(api, b["conversation_id"])]
    pseudonyms = {r["user_id"] for r in rows}
    assert len(pseudonyms) == 1 and user not in json.dumps(rows)  # stable per user, not the id
    [pseudonym] = pseudonyms
    assert user not in json.dumps(api.sql("SELECT document FROM conversations"))  # not stored either
    # A reader of the export posts under the published id: a different owner, the original is untouched.
    forged = _anonymous(pseudonym, bodies[0]["conversation_id"], user_msgs=["forged"])
    assert api.post("/api/endpoint", json=forged).status_code == 200
    mine = [r for r in _rows(api, bodies[0]["conversation_id"]) if r["user_id"] == pseudonym]
    assert [r["conversation"][0]["content"] for r in mine] == ["mine 0"]


# --- token holders ----------------------------------------------------------------------------------------


def test_a_token_holders_plugin_upload_is_always_theirs(api):
    alice_id, alice = api.contributor()
    bob_id, bob = api.contributor()
    forged = {**plugin_upload(), "user_id": alice_id}
    assert api.post("/api/endpoint", json=forged, headers=bob).status_code == 200
    cid = forged["conversation_id"]
    assert api.get(f"/v1/conversations/{cid}", headers=bob).json()["user_id"] == bob_id
    assert [r["user_id"] for r in _rows(api, cid)] == [bob_id]
    assert api.delete("/v1/contributors/me", headers=alice).json() == {"deleted_conversations": 0}
    assert api.delete("/v1/contributors/me", headers=bob).json() == {"deleted_conversations": 1}
    assert not _rows(api, cid)


# --- ids, cursors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cid", ["a/b", "../c1", "..", ".", "a\\b", "/", "x/"])
def test_ids_that_a_url_cannot_carry_are_refused(api, cid):
    _, auth = api.contributor()
    r = api.post("/v1/conversations", json=conversation(cid), headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "conversation_id"], r.text
    r = api.post("/api/endpoint", json=plugin_upload(cid), headers=auth)
    assert r.status_code == 422, r.text
    assert api.get("/v1/conversations", headers=auth).json()["conversations"] == []


# Any code point UTF-8 can carry (no lone surrogates), with the ones URLs treat specially drawn often.
ID_CHARS = st.one_of(st.sampled_from("/\\.%?#&+;= ~"), st.characters(codec="utf-8"))


ODD_IDS = ["a/b", "../c1", "..", ".", "...", "x\\y", "%2F", "%", "a?b#c", "a b", " lead", "trail ", "日本-1",
           "\u2028sep", "\u00a0nbsp", "\U0001f600", "+plus", "semi;colon", "~tilde", "a\x7fdel"]


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(suffix=st.text(ID_CHARS, min_size=1, max_size=24))
def _every_stored_id_is_addressable(api, auth, suffix):
    cid = suffix if len(suffix) > 4 else "id" + suffix  # mostly new ids
    r = api.post("/v1/conversations", json=conversation(cid, turns=1), headers=auth)
    if r.status_code == 422:
        return
    assert r.status_code in (200, 201), r.text
    url = "/v1/conversations/" + quote(cid, safe="")
    got = api.get(url, headers=auth)
    assert got.status_code == 200 and got.json()["conversation_id"] == cid, (cid, got.text)
    rated = api.patch(url + "/rating", json={"rate": "thumbup"}, headers=auth)
    assert rated.status_code == 200, (cid, rated.text)
    assert api.delete(url, headers=auth).status_code == 204, cid
    assert api.get(url, headers=auth).status_code == 404, cid


def test_every_id_that_can_be_stored_is_addressable(api):
    _, auth = api.contributor()
    for cid in ODD_IDS:  # the ones clients and servers split, decode or normalise
        _every_stored_id_is_addressable.hypothesis.inner_test(api, auth, cid)
    _every_stored_id_is_addressable(api, auth)


def test_cursors_are_opaque_and_checked(api):
    _, auth = api.contributor()
    for _ in range(3):
        api.post("/v1/conversations", json=conversation(), headers=auth)
    page = api.get("/v1/conversations", params={"limit": 1}, headers=auth).json()
    cursor = page["next_cursor"]
    [(row_id,)] = api.sql("SELECT id FROM conversations WHERE conversation_id = :c",
                          c=page["conversations"][0]["conversation_id"])
    assert cursor and not cursor.isdigit() and str(row_id) not in cursor  # says nothing about the row id
    _, other = api.contributor()  # another contributor's cursors are keyed differently: this one is noise
    r = api.get("/v1/conversations", params={"cursor": cursor}, headers=other)
    assert r.status_code == 422 or (r.status_code == 200 and r.json()["conversations"] == []), r.text
    for bad in ("²", "①", "١٢٣", "12", "abc", "!" * 11, "A" * 33, "-1"):  # 500s once, for the Unicode digits
        r = api.get("/v1/conversations", params={"cursor": bad}, headers=auth)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "cursor"], (bad, r.text)


# --- bodies that are not JSON ------------------------------------------------------------------------------


def test_bodies_that_are_not_json_are_400(api):
    """As the README and the OpenAPI document say: 400, a Problem naming the reason, not a 422."""
    _, auth = api.contributor()
    cases = [
        (b"{not json", "application/json"),
        (b'{"user_msgs": ["\xff\xfe"], "bot_msgs": ["x"]}', "application/json"),  # not UTF-8
        (b'{"user_msgs": ["x"], "bot_msgs": ["y"]}', "text/plain"),  # not declared JSON
    ]
    for path in ("/api/endpoint", "/v1/conversations", "/v1/conversations/batch"):
        for body, ctype in cases:
            r = api.post(path, content=body, headers={**auth, "content-type": ctype})
            assert r.status_code == 400, (path, body, r.text)
            assert isinstance(r.json()["detail"], str) and "\xff" not in r.text
    doc = api.get("/openapi.json").json()
    for path in ("/api/endpoint", "/v1/conversations", "/v1/conversations/batch"):
        assert "400" in doc["paths"][path]["post"]["responses"]


# --- CORS ------------------------------------------------------------------------------------------------


def test_cors_only_on_the_plugins_upload_route(api):
    origin = {"Origin": "https://evil.example"}
    preflight = {**origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    for path in ("/v1/export", "/v1/contributors/me", "/v1/conversations", "/v1/conversations/x"):
        r = api.options(path, headers=preflight)
        assert "access-control-allow-origin" not in r.headers, (path, r.headers)
    operator = {**origin, **api.operator}
    r = api.get("/v1/export", headers=operator)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    _, auth = api.contributor()
    r = api.get("/v1/conversations", headers={**auth, **origin})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    r = api.options("/api/endpoint", headers={**preflight, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = api.post("/api/endpoint", json=plugin_upload(), headers=origin)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


# --- erasure leaves nothing in SQLite's files ----------------------------------------------------------


def _on_disk(api) -> bytes:
    path = api.engine.url.database
    return b"".join(open(p, "rb").read() for p in (path, path + "-wal", path + "-shm") if os.path.exists(p))


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
def test_erasure_leaves_no_text_in_sqlites_files(api):
    _, auth = api.contributor()
    markers = [f"erase-marker-{uuid.uuid4().hex}" for _ in range(3)]
    cids = []
    for marker in markers:
        conv = conversation(text=marker, turns=2)
        api.post("/v1/conversations", json=conv, headers=auth)
        api.post("/v1/conversations", json=conversation(conv["conversation_id"], text=marker + "-v2"),
                 headers=auth)  # an earlier version freed, too
        cids.append(conv["conversation_id"])
    assert all(m.encode() in _on_disk(api) for m in markers)
    assert api.delete(f"/v1/conversations/{cids[0]}", headers=auth).status_code == 204
    assert markers[0].encode() not in _on_disk(api)
    assert api.delete("/v1/contributors/me", headers=auth).json() == {"deleted_conversations": 2}
    disk = _on_disk(api)
    assert not [m for m in markers if m.encode() in disk]


# --- an export never aborts on one stored row ----------------------------------------------------------


def _store_a_row_the_schema_rejects(api, auth) -> str:
    """A row as an older version (or a larger cap) could have left it: a message over today's cap."""
    conv = conversation(text="short")
    api.post("/v1/conversations", json=conv, headers=auth)
    doc = Conversation.model_validate(conv).model_dump(mode="json")
    doc["conversation"][0]["content"] = "z" * 25_000  # over SHARELM_MAX_CONTENT_CHARS=20000
    _set_document(api, "conversation_id", conv["conversation_id"], doc)
    return conv["conversation_id"]


def _metric(api, name: str) -> float:
    lines = [line for line in api.get("/metrics").text.splitlines() if line.startswith(name + " ")]
    return sum(float(line.split()[-1]) for line in lines)


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
def test_export_skips_and_reports_a_row_the_schema_rejects(api, tmp_path):
    from sharelm.export import load_conversations

    _, auth = api.contributor()
    good = conversation(turns=2)
    api.post("/v1/conversations", json=good, headers=auth)
    bad = _store_a_row_the_schema_rejects(api, auth)
    env = {**os.environ, "DATABASE_URL": api.server.database_url, "SHARELM_MAX_CONTENT_CHARS": "20000"}
    for out in (tmp_path / "all.jsonl", tmp_path / "dataset"):
        done = subprocess.run([sys.executable, "-m", "sharelm_collector", "export", str(out)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "skipped 1 stored rows" in done.stdout and "skipped row" in done.stderr, done
        ids = {c.conversation_id for c in load_conversations(out)}
        assert good["conversation_id"] in ids and bad not in ids
        assert not list(tmp_path.glob(".*partial*"))
    # GET /v1/export: skipped too, every line valid, and the rows after it still there.
    after = conversation()
    api.post("/v1/conversations", json=after, headers=auth)
    before = _metric(api, "sharelm_export_skipped_rows_total")
    rows = api.export()
    ids = {r["conversation_id"] for r in rows}
    assert bad not in ids and {good["conversation_id"], after["conversation_id"]} <= ids
    for r in rows:
        Conversation.model_validate(r, context=api.caps)
    assert _metric(api, "sharelm_export_skipped_rows_total") == before + 1
    assert "skipped row" in api.server.read_log()
    # Its owner can still list, read and delete it; rating it is a 413 (it cannot be written back as is).
    assert api.get("/v1/conversations", params={"limit": 500}, headers=auth).status_code == 200
    assert api.get(f"/v1/conversations/{bad}", headers=auth).status_code == 200
    rated = api.patch(f"/v1/conversations/{bad}/rating", json={"rate": "thumbup"}, headers=auth)
    assert rated.status_code == 413, rated.text
    assert api.delete(f"/v1/conversations/{bad}", headers=auth).status_code == 204
