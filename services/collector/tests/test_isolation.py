"""One contributor can never read, rate, list or delete another's data (SQLite and PostgreSQL)."""

from __future__ import annotations

from sharelm_collector.devtools.samples import conversation, plugin_upload


def test_contributors_are_isolated(api):
    alice_id, alice = api.contributor()
    bob_id, bob = api.contributor()
    private = conversation(text="alice's secret plan")
    shared_id = conversation()["conversation_id"]
    assert api.post("/v1/conversations", json=private, headers=alice).status_code == 201
    # The same conversation_id in two namespaces: two conversations, neither replaces the other.
    assert api.post("/v1/conversations", json=conversation(shared_id, text="alice"), headers=alice).json()[
        "status"] == "created"
    assert api.post("/v1/conversations", json=conversation(shared_id, text="bob"), headers=bob).json()[
        "status"] == "created"

    url = f"/v1/conversations/{private['conversation_id']}"
    assert api.get(url, headers=bob).status_code == 404
    assert api.patch(url + "/rating", json={"rate": "thumbdown"}, headers=bob).status_code == 404
    assert api.delete(url, headers=bob).status_code == 404
    listed = api.get("/v1/conversations", params={"limit": 500}, headers=bob).json()["conversations"]
    assert {c["conversation_id"] for c in listed} == {shared_id}
    assert listed[0]["conversation"][0]["content"].startswith("bob")

    # Alice's data is untouched by Bob's attempts, and Bob's erase-me takes only Bob's.
    assert api.get(url, headers=alice).json()["conversation_metadata"]["rate"] is None
    assert api.delete("/v1/contributors/me", headers=bob).json() == {"deleted_conversations": 1}
    assert api.get(url, headers=alice).status_code == 200
    mine = api.get(f"/v1/conversations/{shared_id}", headers=alice).json()
    assert mine["conversation"][0]["content"].startswith("alice") and mine["user_id"] == alice_id
    assert not api.sql("SELECT 1 FROM conversations WHERE contributor_id = :b", b=bob_id)


def test_a_client_cannot_claim_another_user_id(api):
    alice_id, alice = api.contributor()
    _, bob = api.contributor()
    forged = {**conversation(), "user_id": alice_id}
    api.post("/v1/conversations", json=forged, headers=bob)
    assert api.get(f"/v1/conversations/{forged['conversation_id']}", headers=alice).status_code == 404
    stored = api.get(f"/v1/conversations/{forged['conversation_id']}", headers=bob).json()
    assert stored["user_id"] != alice_id


def test_anonymous_plugin_uploads_are_not_readable_through_v1(api):
    _, auth = api.contributor()
    body = plugin_upload()
    api.post("/api/endpoint", json=body)
    assert api.get(f"/v1/conversations/{body['conversation_id']}", headers=auth).status_code == 404
    # Another plugin user re-posting the same conversation_id does not overwrite the first one's.
    other = {**plugin_upload(body["conversation_id"], user_msgs=["other"]), "user_id": "plugin-user-2"}
    api.post("/api/endpoint", json=other)
    rows = [c for c in api.export() if c["conversation_id"] == body["conversation_id"]]
    assert len(rows) == 2 and len({r["user_id"] for r in rows}) == 2  # two plugin users' pseudonyms
    assert {r["conversation"][0]["content"] for r in rows} == {"hi", "other"}
