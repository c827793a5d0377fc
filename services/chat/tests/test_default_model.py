"""The embedded default is the trained chat model shipped in `sharedllm.chat_model`: it speaks English.

Its reply to the README's example ("Hello!", 32 tokens, seed 0) through a real server is readable text: at
least 95% printable characters, no U+FFFD (the random tiny model, which served before, answered with random
bytes shown as U+FFFD; it fails the same check below, so the check can fail).
"""

from __future__ import annotations

import string
import time

import httpx
import pytest

from sharedllm import SharedLLMForCausalLM
from sharedllm.chat_model import default_chat_model_path
from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.engine.loader import load_model
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

PROMPT = [{"role": "user", "content": "Hello!"}]
PRINTABLE = set(string.printable)


def readable(text: str) -> tuple[bool, str]:
    """At least 95% printable ASCII (letters, digits, punctuation, whitespace), no replacement character,
    and at least one word of two letters or more."""
    if not text:
        return False, "empty reply"
    share = sum(c in PRINTABLE for c in text) / len(text)
    words = [w.strip(string.punctuation) for w in text.split()]
    has_word = any(len(w) >= 2 and w.isalpha() for w in words)
    ok = share >= 0.95 and "\ufffd" not in text and has_word
    return ok, f"{share:.0%} printable, {text.count(chr(0xFFFD))} U+FFFD, a word: {has_word}: {text!r}"


def _reply(settings: Settings, loaded, **extra) -> str:
    with serve_in_thread(create_app(settings, loaded)) as url:
        body = {"model": settings.served_model_name, "messages": PROMPT, "max_tokens": 32, "seed": 0, **extra}
        resp = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["choices"][0]["message"]["content"]


def test_the_trained_model_is_shipped_and_small():
    path = default_chat_model_path()
    assert path is not None, "packages/sharedllm/src/sharedllm/chat_model holds no checkpoint"
    assert (path / "model.safetensors").stat().st_size < 10 * 2**20


def test_no_model_setting_serves_the_trained_default_and_it_speaks():
    settings = Settings()
    start = time.perf_counter()
    loaded = load_model(settings)
    assert isinstance(loaded.model, SharedLLMForCausalLM)
    assert loaded.model.name_or_path == str(default_chat_model_path())
    reply = _reply(settings, loaded)  # the README's example: default sampling, seed 0
    assert time.perf_counter() - start < 30, "the service should answer within 30 s of starting"
    ok, why = readable(reply)
    assert ok, why
    greedy = _reply(settings, loaded, temperature=0)
    ok, why = readable(greedy)
    assert ok, why


def test_random_shape_knobs_still_build_the_random_model_and_it_fails_the_check():
    for settings in (Settings(embedded_model="random"), Settings(chunk_size=256, embedded_layers=2)):
        loaded = load_model(settings)
        assert loaded.model.name_or_path != str(default_chat_model_path())
        assert loaded.model.config.base_config.hidden_size == settings.embedded_hidden_size
    ok, why = readable(_reply(settings, loaded))
    assert not ok, f"the random model passed the readability check: {why}"


@pytest.mark.parametrize("text", ["\ufffd\ufffdab", "", "\x01\x02\x03 hi"])
def test_readable_rejects_garbage(text):
    assert not readable(text)[0]
