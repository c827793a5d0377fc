"""Opted-in conversations reach the real ShareLM collector (`sharelm-collector serve` on SQLite)."""

from __future__ import annotations

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
        client.chat.completions.create(
            model=MODEL, messages=msgs, max_tokens=4, extra_body={"conversation_id": "private-1"}
        )
        sent = _wait_contribution(http, "shared-1", "sent")
        assert sent["contribution"]["detail"] == "created"

        token = app.state.chat.collector.token  # the chat server registered itself as a contributor
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=collector.url, timeout=30, headers=auth) as col:
            stored = Conversation.model_validate(col.get("/v1/conversations/shared-1").json())
            assert stored.conversation[-1].content == first.choices[0].message.content
            assert stored.source == "sharedllm_chat" and stored.model_name == MODEL
            assert col.get("/v1/conversations/private-1").status_code == 404

            # A rating re-sends the conversation (idempotent by id: "replaced").
            http.post("/v1/conversations/shared-1/rating", json={"rate": "thumbup", "message_ratings": [1]})
            assert _wait_contribution(http, "shared-1", "sent")["contribution"]["detail"] == "replaced"
            meta = col.get("/v1/conversations/shared-1").json()["conversation_metadata"]
            assert meta["rate"] == "thumbup" and meta["message_ratings"] == [1]

            # Opting in later works too.
            http.post("/v1/conversations/private-1/contribute", json={"contribute": True})
            _wait_contribution(http, "private-1", "sent")
            assert col.get("/v1/conversations/private-1").status_code == 200


@pytest.mark.slow
def test_unreachable_collector_marks_failure_not_the_chat(llama_loaded):
    settings = Settings(served_model_name=MODEL, collector_url="http://127.0.0.1:9", collector_timeout_s=2)
    with serve_in_thread(create_app(settings, llama_loaded)) as url, httpx.Client(base_url=url) as http:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        resp = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=4,
            extra_body={"conversation_id": "c", "contribute": True},
        )
        assert resp.choices[0].message.content is not None
        failed = _wait_contribution(http, "c", "failed")
        assert failed["contribution"]["opted_in"] and failed["contribution"]["detail"]  # the reason
