"""A long chat (> 50K tokens) with the embedded tiny SharedLLM, through the openai client and a real server.

Each turn must encode only the chunks that are new since the last turn (counted by the ContextCache's own
counters), the per-conversation caches must stay within their byte budget (LRU eviction), and a
conversation evicted or edited must still be answered, re-encoding what it needs.
"""

from __future__ import annotations

import random

import openai
import pytest

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

pytestmark = pytest.mark.slow

WORDS = [
    "the",
    "a",
    "chat",
    "model",
    "long",
    "context",
    "chunk",
    "cache",
    "token",
    "turn",
    "reply",
    "user",
    "history",
    "window",
    "tree",
]
CHUNK, WINDOW, MAX_TOKENS = 256, 1024, 8


def _text(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    while sum(map(len, words)) + len(words) < n_chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:n_chars]


@pytest.fixture(scope="module")
def sharedllm_settings() -> Settings:
    # One 50K-token conversation (~200 chunks of 16 KiB) fits the cache budget; it and another do not.
    return Settings(
        served_model_name="sharedllm-tiny",
        chunk_size=CHUNK,
        upper_window=WINDOW,
        max_input_tokens=120_000,
        cache_max_bytes=int(3.5 * 2**20),
        max_tokens_limit=64,
    )


@pytest.fixture(scope="module")
def sharedllm_server(sharedllm_settings, sharedllm_loaded):
    app = create_app(sharedllm_settings, sharedllm_loaded)
    with serve_in_thread(app) as url:
        yield url, app


_SECRETS: dict[str, str] = {}  # each conversation's secret, from its first turn (an open server binds by it)


def _turn(client: openai.OpenAI, cid: str, messages: list[dict]) -> str:
    headers = {"X-Conversation-Id": cid}
    if cid in _SECRETS:
        headers["X-Conversation-Secret"] = _SECRETS[cid]
    resp = client.chat.completions.create(
        model="sharedllm-tiny",
        messages=messages,
        max_tokens=MAX_TOKENS,
        seed=0,
        extra_headers=headers,
    )
    assert resp.choices[0].finish_reason in ("stop", "length")
    if resp.model_extra.get("conversation_secret"):
        _SECRETS[cid] = resp.model_extra["conversation_secret"]
    return resp.choices[0].message.content


def _cache(state, cid: str):
    """The conversation's context-cache entry (kept per owner: an open server's callers are anonymous)."""
    return state.contexts.get(state.conversations.context_key(("anonymous", cid)))


def test_long_chat_reuses_context_cache_and_stays_bounded(sharedllm_server, tokenizer):
    url, app = sharedllm_server
    state = app.state.chat
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
    rng = random.Random(0)
    cid = "long-chat"

    messages = [
        {"role": "system", "content": "You are a patient assistant."},
        {"role": "user", "content": "Please read this document.\n" + _text(rng, 42_000)},
    ]
    chunk_history = []
    while True:
        reply = _turn(client, cid, messages)
        entry = _cache(state, cid)
        cache = entry.cache
        # Every chunk ever supplied was encoded exactly once, one extend() per turn.
        assert cache.chunks_encoded == cache.num_chunks
        assert cache.encode_calls == len(chunk_history) + 1
        chunk_history.append(cache.num_chunks)
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": _text(rng, 3_000)}]
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if len(tokenizer.encode(prompt, add_special_tokens=False)) > 52_000:
            break
    reply = _turn(client, cid, messages)
    total = len(
        tokenizer.encode(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False),
            add_special_tokens=False,
        )
    )
    assert total > 50_000

    cache = _cache(state, cid).cache
    # The last turn added ~3K tokens: it encoded ~12 new chunks, not the ~200 the history holds.
    new_last = cache.num_chunks - chunk_history[-1]
    assert 0 < new_last <= 3_100 // CHUNK + 2
    assert cache.chunks_encoded == cache.num_chunks and cache.num_chunks >= (total - WINDOW) // CHUNK
    assert state.contexts.stats.chunks_reused >= sum(chunk_history)

    # The cache holds compressed keys/values: a fraction of a full KV cache for the same tokens.
    base = state.loaded.model.config.base_config
    head_dim = base.hidden_size // base.num_attention_heads
    full_kv_bytes = cache.num_chunks * CHUNK * 2 * base.num_key_value_heads * head_dim * 4 * 2  # 2 layers
    assert cache.nbytes() <= full_kv_bytes / 4

    # A second long conversation pushes the first out of the byte-bounded LRU.
    other = [{"role": "user", "content": _text(rng, 8_000)}]
    _turn(client, "other-chat", other)
    assert state.contexts.nbytes() <= state.settings.cache_max_bytes
    assert _cache(state, cid) is None and state.contexts.stats.evictions >= 1

    # An edited history (first message changed) does not reuse stale chunks.
    before = _cache(state, "other-chat").cache
    _turn(client, "other-chat", [{"role": "user", "content": "Something else. " + other[0]["content"]}])
    fresh = _cache(state, "other-chat").cache
    assert fresh is not before and fresh.encode_calls == 1 and fresh.chunks_encoded == fresh.num_chunks

    # The evicted conversation still gets answered: its chunks are encoded again, once.
    _turn(client, cid, messages)
    again = _cache(state, cid).cache
    assert again.encode_calls == 1 and again.chunks_encoded == again.num_chunks >= cache.num_chunks
