"""Each conversation belongs to the caller who started it (issue 14, item 3): nobody else can read,
continue, replace, rate, opt in or delete it (404, as for an id never served), and no opt-in carries over
to another caller. Open server: bound by the secret its first turn returns. Per-user keys: by the key."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from sharedllm_chat.api.identity import KeyRing
from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.cli import app as cli_app
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

MODEL = "test-model"
ALICE, BOB = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef00"


def _turn(http: httpx.Client, cid: str, text: str, **extra) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 4, "seed": 1}
    return http.post("/v1/chat/completions", json={**body, "conversation_id": cid, **extra})


def _everything_404(http: httpx.Client, cid: str, headers: dict | None = None) -> None:
    h = headers or {}
    assert http.get(f"/v1/conversations/{cid}", headers=h).status_code == 404
    assert (
        http.post(f"/v1/conversations/{cid}/rating", json={"rate": "thumbdown"}, headers=h).status_code == 404
    )
    assert (
        http.post(f"/v1/conversations/{cid}/contribute", json={"contribute": False}, headers=h).status_code
        == 404
    )
    assert http.delete(f"/v1/conversations/{cid}", headers=h).status_code == 404


def test_open_server_binds_a_conversation_to_its_secret(http, llama_server):
    first = _turn(http, "victim-1", "my private words")
    assert first.status_code == 200
    secret = first.headers["X-Conversation-Secret"]
    assert first.json()["conversation_secret"] == secret and len(secret) >= 40
    mine = {"X-Conversation-Secret": secret}
    stored = http.get("/v1/conversations/victim-1", headers=mine).json()

    # Anyone else: no secret, or a wrong one. Reading, continuing, replacing, rating, deleting: all 404.
    for other in ({}, {"X-Conversation-Secret": "guess"}):
        _everything_404(http, "victim-1", other)
        cont = _turn(
            http,
            "victim-1",
            "attacker text",
            contribute=True,
            conversation_secret=other.get("X-Conversation-Secret"),
        )
        assert cont.status_code == 404 and cont.json()["error"]["param"] == "conversation_id"
        assert "X-Conversation-Secret" not in cont.headers
    with httpx.stream(
        "POST",
        f"{llama_server}/v1/chat/completions",
        json={
            "model": MODEL,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
            "conversation_id": "victim-1",
        },
    ) as stream:
        assert stream.status_code == 404
    assert http.get("/v1/conversations/victim-1", headers=mine).json() == stored  # untouched

    # The owner: continues (no new secret), rates, deletes; then the id is gone for them too.
    again = _turn(http, "victim-1", "more", conversation_secret=secret)
    assert again.status_code == 200 and "X-Conversation-Secret" not in again.headers
    assert (
        http.post("/v1/conversations/victim-1/rating", json={"rate": "thumbup"}, headers=mine).status_code
        == 200
    )
    assert http.delete("/v1/conversations/victim-1", headers=mine).status_code == 204
    assert http.get("/v1/conversations/victim-1", headers=mine).status_code == 404
    # A freed id starts afresh, under a new secret.
    reborn = _turn(http, "victim-1", "new chat")
    assert reborn.status_code == 200 and reborn.headers["X-Conversation-Secret"] != secret


def test_a_refused_first_turn_does_not_claim_the_id(http):
    assert _turn(http, "never-claimed", "hi", max_tokens=10**6).status_code == 400
    assert _turn(http, "never-claimed", "hi").status_code == 200  # no secret asked: it was free


@pytest.fixture(scope="module")
def keyed_server(llama_loaded):
    settings = Settings(served_model_name=MODEL, api_keys={ALICE: "alice", BOB: "bob"}, max_tokens_limit=64)
    app = create_app(settings, llama_loaded)
    with serve_in_thread(app) as url:
        yield url, app


def _as(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"})


def test_per_user_keys_keep_conversations_apart(keyed_server):
    url, app = keyed_server
    with _as(url, ALICE) as alice, _as(url, BOB) as bob, httpx.Client(base_url=url) as nobody:
        first = _turn(alice, "plans", "alice's secret plans", contribute=True)
        assert first.status_code == 200 and "X-Conversation-Secret" not in first.headers  # the key binds it
        stored = alice.get("/v1/conversations/plans").json()
        assert stored["conversation"]["user_id"] == "alice"
        assert stored["contribution"]["opted_in"]

        _everything_404(bob, "plans")
        # Bob's own "plans" is another conversation: he sees nothing of Alice's and inherits no opt-in,
        # and his `user` cannot file it under Alice.
        his = _turn(bob, "plans", "bob's text", user="alice")
        assert his.status_code == 200
        got = bob.get("/v1/conversations/plans").json()
        assert [m["content"] for m in got["conversation"]["conversation"]][0] == "bob's text"
        assert got["contribution"] == {**got["contribution"], "opted_in": False, "status": "not_opted_in"}
        assert got["conversation"]["user_id"] == "bob"
        assert alice.get("/v1/conversations/plans").json()["conversation"] == stored["conversation"]
        store = app.state.chat.conversations
        assert store.context_key(("user:alice", "plans")) != store.context_key(("user:bob", "plans"))

        assert nobody.get("/v1/models").status_code == 401
        with _as(url, "sk-not-a-key-0123456789") as wrong:
            assert wrong.get("/v1/conversations/plans").status_code == 401
        assert nobody.get("/healthz").status_code == 200  # probes stay open


def test_keys_file_and_bad_keys_are_named(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"# user key\nalice {ALICE}\n\nbob {BOB}\n")
    ring = KeyRing.from_settings(Settings(api_keys_file=path))
    assert ring.caller(ALICE).user == "alice" and ring.caller(BOB).user == "bob"
    assert ring.caller("sk-nobody-0123456789") is None and ring.caller(None) is None

    path.write_text(f"alice {ALICE}\nbob\n")
    with pytest.raises(ValueError, match="line 2"):
        KeyRing.from_settings(Settings(api_keys_file=path))
    with pytest.raises(ValueError, match="16"):
        KeyRing.from_settings(Settings(api_keys={"short": "carol"}))
    (tmp_path / "dup").write_text(f"mallory {ALICE}\n")
    with pytest.raises(ValueError, match="two users"):
        KeyRing.from_settings(Settings(api_keys={ALICE: "alice"}, api_keys_file=tmp_path / "dup"))
    result = CliRunner().invoke(cli_app, ["serve"], env={"SHAREDLLM_CHAT_API_KEYS_FILE": str(path)})
    assert result.exit_code == 2 and "line 2" in result.output


def test_delete_forgets_the_context_cache_too(sharedllm_loaded):
    settings = Settings(
        served_model_name="sharedllm-tiny", chunk_size=256, upper_window=1024, max_tokens_limit=8
    )
    app = create_app(settings, sharedllm_loaded)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        body = {"model": "sharedllm-tiny", "max_tokens": 2, "conversation_id": "long-one"}
        first = http.post(
            "/v1/chat/completions", json={**body, "messages": [{"role": "user", "content": "w " * 1500}]}
        )
        assert first.status_code == 200
        state = app.state.chat
        key = state.conversations.context_key(("anonymous", "long-one"))
        assert state.contexts.get(key) is not None  # its history beyond the window went to the lower model
        secret = {"X-Conversation-Secret": first.headers["X-Conversation-Secret"]}
        assert http.delete("/v1/conversations/long-one", headers=secret).status_code == 204
        assert state.contexts.get(key) is None
