"""Opted-in conversations reach the real ShareLM collector (`sharelm-collector serve` on SQLite)."""

from __future__ import annotations

import socket
import time

import httpx
import openai
import pytest

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings
from sharelm import Conversation
from sharelm_collector.devtools.server import CollectorServer

MODEL = "test-model"


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collector")
    env = {"SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "0", "SHARELM_COLLECTOR_RATE_LIMIT_SIGNUPS_PER_IP": "0"}
    server = CollectorServer(f"sqlite:///{tmp / 'collector.db'}", tmp, workers=1, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_contribution(http: httpx.Client, cid: str, status: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = http.get(f"/v1/conversations/{cid}").json()
        if got["contribution"]["status"] == status:
            return got
        time.sleep(0.05)
    raise AssertionError(f"contribution of {cid} never reached {status!r}: {got['contribution']}")


@pytest.mark.slow
def test_opted_in_conversation_is_contributed_and_rated(collector, llama_loaded):
    settings = Settings(served_model_name=MODEL, collector_url=collector.url)
    app = create_app(settings, llama_loaded)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        msgs = [{"role": "user", "content": "Share this chat, please."}]
        first = client.chat.completions.create(
            model=MODEL,
            messages=msgs,
            max_tokens=12,
            seed=1,
            extra_body={"conversation_id": "shared-1", "contribute": True},
        )
        # Not opted in: never leaves the server.
        private = client.chat.completions.create(
            model=MODEL, messages=msgs, max_tokens=4, extra_body={"conversation_id": "private-1"}
        )
        private_secret = private.model_extra["conversation_secret"]
        secret = first.model_extra["conversation_secret"]
        http.headers["X-Conversation-Secret"] = secret
        sent = _wait_contribution(http, "shared-1", "sent")
        assert sent["contribution"]["detail"] == "created" and sent["contribution"]["attempts"] == 1
        # Filed under an id of its own binding: another caller's "shared-1" (or one after a restart)
        # can never replace it at the collector.
        shared_at = sent["contribution"]["collector_conversation_id"]
        assert shared_at.startswith("shared-1.") and shared_at != "shared-1"

        token = app.state.chat.collector.token  # the chat server registered itself as a contributor
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=collector.url, timeout=30, headers=auth) as col:
            stored = Conversation.model_validate(col.get(f"/v1/conversations/{shared_at}").json())
            assert stored.conversation[-1].content == first.choices[0].message.content
            assert stored.source == "sharedllm_chat" and stored.model_name == MODEL
            assert col.get("/v1/conversations/private-1").status_code == 404

            # A rating re-sends the conversation (idempotent by id: "replaced").
            http.post("/v1/conversations/shared-1/rating", json={"rate": "thumbup", "message_ratings": [1]})
            assert _wait_contribution(http, "shared-1", "sent")["contribution"]["detail"] == "replaced"
            meta = col.get(f"/v1/conversations/{shared_at}").json()["conversation_metadata"]
            assert meta["rate"] == "thumbup" and meta["message_ratings"] == [1]

            # Opting in later works too.
            http.headers["X-Conversation-Secret"] = private_secret
            http.post("/v1/conversations/private-1/contribute", json={"contribute": True})
            private_at = _wait_contribution(http, "private-1", "sent")["contribution"][
                "collector_conversation_id"
            ]
            assert col.get(f"/v1/conversations/{private_at}").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_unreachable_collector_marks_failure_not_the_chat(llama_loaded):
    settings = Settings(
        served_model_name=MODEL,
        collector_url=f"http://127.0.0.1:{_free_port()}",
        collector_timeout_s=2,
        collector_attempts=3,
        collector_backoff_s=0.05,
    )
    with serve_in_thread(create_app(settings, llama_loaded)) as url, httpx.Client(base_url=url) as http:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        resp = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=4,
            extra_body={"conversation_id": "c", "contribute": True},
        )
        assert resp.choices[0].message.content is not None
        http.headers["X-Conversation-Secret"] = resp.model_extra["conversation_secret"]
        failed = _wait_contribution(http, "c", "failed")["contribution"]
        assert failed["opted_in"] and "unreachable" in failed["detail"]  # the reason
        assert failed["attempts"] == 3  # tried again before giving up


@pytest.mark.slow
def test_contribution_is_retried_until_the_collector_comes_up(llama_loaded, tmp_path):
    """Issue 13: a post that failed stayed failed until the next turn. Now it is retried with backoff, the
    state shows while it waits, and it lands once the collector is up."""
    env = {"SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "0", "SHARELM_COLLECTOR_RATE_LIMIT_SIGNUPS_PER_IP": "0"}
    collector = CollectorServer(f"sqlite:///{tmp_path / 'late.db'}", tmp_path, workers=1, env=env)
    settings = Settings(
        served_model_name=MODEL,
        collector_url=collector.url,  # not listening yet
        collector_timeout_s=2,
        collector_attempts=1000,
        collector_backoff_s=0.05,
        collector_backoff_max_s=0.5,
    )
    with serve_in_thread(create_app(settings, llama_loaded)) as url, httpx.Client(base_url=url) as http:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        resp = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "keep trying"}],
            max_tokens=4,
            extra_body={"conversation_id": "late", "contribute": True},
        )
        http.headers["X-Conversation-Secret"] = resp.model_extra["conversation_secret"]
        retrying = _wait_contribution(http, "late", "retrying")["contribution"]
        assert retrying["attempts"] >= 1 and "unreachable" in retrying["detail"]
        assert retrying["next_attempt_at"]
        collector.start()
        try:
            sent = _wait_contribution(http, "late", "sent")["contribution"]
            assert sent["attempts"] > 1
            assert 'chat_contributions_total{result="retried"}' in http.get("/metrics").text
        finally:
            collector.stop()
