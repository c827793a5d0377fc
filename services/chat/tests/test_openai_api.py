"""The official openai client against a real server: protocol, sampling controls, errors, cancellation."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings
from sharelm import Conversation

MODEL = "test-model"

HELLO = [{"role": "user", "content": "Hello there, who are you?"}]


def _chat(client, messages=HELLO, **kw):
    kw.setdefault("max_tokens", 24)
    return client.chat.completions.create(model=MODEL, messages=messages, **kw)


def test_models_health_metrics(client, http):
    assert [m.id for m in client.models.list().data] == [MODEL]
    assert http.get("/healthz").json()["status"] == "ok"
    _chat(client, seed=1)
    metrics = http.get("/metrics").text
    assert "chat_completion_tokens_total" in metrics
    assert "chat_time_to_first_token_seconds_count" in metrics


def test_non_streaming_completion(client):
    resp = _chat(client, seed=3, temperature=0.8, top_p=0.9, max_tokens=16)
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert 1 <= resp.usage.completion_tokens <= 16
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.model == MODEL


def test_streaming_matches_non_streaming(client):
    whole = _chat(client, seed=7, max_tokens=20).choices[0].message.content
    stream = _chat(client, seed=7, max_tokens=20, stream=True, stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens >= 1


def test_min_tokens_holds_off_the_end(client):
    resp = _chat(client, seed=4, max_tokens=300, extra_body={"min_tokens": 300})
    assert resp.usage.completion_tokens == 300 and resp.choices[0].finish_reason == "length"


def test_seed_reproducible_and_greedy_deterministic(client):
    a = _chat(client, seed=11, max_tokens=20).choices[0].message.content
    b = _chat(client, seed=11, max_tokens=20).choices[0].message.content
    assert a == b
    g1 = _chat(client, temperature=0, max_tokens=20).choices[0].message.content
    g2 = _chat(client, temperature=0, max_tokens=20, seed=99).choices[0].message.content
    assert g1 == g2


def _pick_stop(text: str) -> str:
    """A two-character piece of `text` whose first occurrence is a few characters in."""
    for k in range(3, len(text) - 2):
        piece = text[k : k + 2]
        if "\ufffd" not in piece and text.find(piece) == k:
            return piece
    pytest.skip("generated text too short to pick a stop sequence from")


@pytest.mark.parametrize("stream", [False, True])
def test_stop_sequence(client, stream):
    full = _chat(client, seed=5, max_tokens=40).choices[0].message.content
    stop = _pick_stop(full)
    if stream:
        chunks = list(_chat(client, seed=5, max_tokens=40, stop=[stop], stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finish == ["stop"]
    else:
        resp = _chat(client, seed=5, max_tokens=40, stop=stop)
        text = resp.choices[0].message.content
        assert resp.choices[0].finish_reason == "stop"
    assert text == full[: full.find(stop)]
    assert stop not in text


@pytest.mark.parametrize(
    ("messages", "extra", "needle"),
    [
        ([{"role": "robot", "content": "hi"}], {}, "role"),
        ([], {}, "messages"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], {}, "last message"),
        ([{"role": "user", "content": "   "}], {}, "empty"),
        (HELLO, {"max_tokens": 100_000}, "max_tokens"),
        (HELLO, {"temperature": 3.5}, "temperature"),
        (HELLO, {"top_p": 0}, "top_p"),
        (HELLO, {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        (HELLO, {"max_tokens": 5, "extra_body": {"min_tokens": 6}}, "min_tokens"),
        ([{"role": "user", "content": "x" * 25_000}], {}, "input limit"),
        ([{"role": "user", "content": "x" * 4_090}], {"max_tokens": 16}, "input limit"),  # > 4096 positions
    ],
)
def test_bad_requests_get_400_with_reason(client, messages, extra, needle):
    with pytest.raises(openai.BadRequestError) as err:
        _chat(client, messages=messages, **extra)
    assert err.value.status_code == 400
    assert needle in err.value.message


def test_unknown_model_and_malformed_json(client, http):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=HELLO)
    assert "gpt-9" in err.value.message
    resp = http.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["message"]


def test_conversation_recorded_and_rated(client, http):
    cid = "conv-rating-1"
    first = _chat(client, seed=2, extra_headers={"X-Conversation-Id": cid})
    assert first.model_extra["conversation_id"] == cid
    secret = first.model_extra["conversation_secret"]  # an open server binds the conversation by it
    history = [
        *HELLO,
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "Tell me more."},
    ]
    again = _chat(
        client, messages=history, seed=2, extra_body={"conversation_id": cid, "conversation_secret": secret}
    )
    assert again.model_extra["conversation_secret"] is None  # given once, at the first turn
    http.headers["X-Conversation-Secret"] = secret

    got = http.get(f"/v1/conversations/{cid}").json()
    conv = Conversation.model_validate(got["conversation"])  # the shared schema, as stored
    assert [m.role for m in conv.conversation] == ["user", "assistant", "user", "assistant"]
    assert conv.source == "sharedllm_chat" and conv.model_name == MODEL
    assert got["contribution"]["status"] == "not_opted_in"

    rated = http.post(f"/v1/conversations/{cid}/rating", json={"message_index": 1, "rating": -1}).json()
    assert rated["conversation"]["conversation_metadata"]["message_ratings"] == [0, -1]
    rated = http.post(f"/v1/conversations/{cid}/rating", json={"rate": "thumbup"}).json()
    assert rated["conversation"]["conversation_metadata"]["rate"] == "thumbup"

    bad = http.post(f"/v1/conversations/{cid}/rating", json={"message_ratings": [1, 1, 1]})
    assert bad.status_code == 400 and "assistant" in bad.json()["error"]["message"]
    assert http.post(f"/v1/conversations/{cid}/rating", json={}).status_code == 400
    missing = http.post("/v1/conversations/nope/rating", json={"rate": "thumbup"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    assert http.post(f"/v1/conversations/{cid}/contribute", json={}).status_code == 409


def _metric(http: httpx.Client, name: str) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_client_disconnect_cancels_generation(client, http):
    before = _metric(http, 'chat_requests_total{outcome="cancelled"}')
    stream = _chat(client, seed=1, max_tokens=4000, stream=True, extra_body={"min_tokens": 4000})
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    deadline = time.monotonic() + 30
    while http.get("/healthz").json()["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert http.get("/healthz").json()["running"] == 0
    assert _metric(http, 'chat_requests_total{outcome="cancelled"}') == before + 1


def test_non_streaming_disconnect_cancels_generation(llama_loaded):
    # One decoding slot, held by a stream we keep open: the plain request waits in the queue, so it cannot
    # finish before its client gives up, whatever the machine's speed.
    settings = Settings(served_model_name=MODEL, max_active=1, max_tokens_limit=4000)
    with serve_in_thread(create_app(settings, llama_loaded)) as url, httpx.Client(base_url=url) as http:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        holder = _chat(client, seed=1, max_tokens=4000, stream=True, extra_body={"min_tokens": 4000})
        next(iter(holder))
        body = {"model": MODEL, "messages": HELLO, "max_tokens": 50, "seed": 1}
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
            http.post("/v1/chat/completions", json=body, timeout=0.3)
        time.sleep(1.0)  # the server notices within its disconnect poll (0.2 s)
        holder.close()
        deadline = time.monotonic() + 30
        while _metric(http, 'chat_requests_total{outcome="cancelled"}') < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _metric(http, 'chat_requests_total{outcome="cancelled"}') == 2  # the stream and the request
        assert _metric(http, "chat_completion_tokens_total") < 4000 + 50


def test_api_key_when_configured(llama_loaded):
    settings = Settings(served_model_name=MODEL, api_key="s3cret")
    with serve_in_thread(create_app(settings, llama_loaded)) as url:
        good = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert _chat(good, max_tokens=2).choices[0].message.content is not None
        bad = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as err:
            bad.models.list()
        assert "API key" in err.value.message
        assert httpx.get(f"{url}/healthz").status_code == 200  # probes stay open


def test_queue_limit_answers_429(llama_loaded):
    settings = Settings(served_model_name=MODEL, max_queue=1, max_active=1, max_tokens_limit=4000)
    with serve_in_thread(create_app(settings, llama_loaded)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        stream = _chat(client, seed=1, max_tokens=4000, stream=True, extra_body={"min_tokens": 4000})
        next(iter(stream))  # the first request now holds the only slot
        with pytest.raises(openai.RateLimitError) as err:
            _chat(client)
        assert err.value.status_code == 429 and "queue limit" in err.value.message
        stream.close()
