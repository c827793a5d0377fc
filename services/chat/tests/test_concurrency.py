"""Several clients at once: each gets its own answer, and a seeded request answers the same as when alone."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

MODEL = "sharedllm-tiny"


def _prompt(i: int) -> list[dict]:
    rng = random.Random(i)
    # Long enough for the two middle clients that part of their chat goes to the lower model as chunks.
    n_words = 700 if i in (1, 2) else 12
    words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega"]) for _ in range(n_words))
    return [{"role": "user", "content": f"Client {i}: {words}"}]


def _ask(client: openai.OpenAI, i: int, run: str) -> str:
    kwargs = dict(
        model=MODEL,
        messages=_prompt(i),
        max_tokens=24,
        seed=100 + i,
        temperature=0.9,
        extra_headers={"X-Conversation-Id": f"{run}-{i}"},
    )
    if i % 2:  # half stream, half not
        stream = client.chat.completions.create(stream=True, **kwargs)
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    return client.chat.completions.create(**kwargs).choices[0].message.content


@pytest.mark.slow
def test_concurrent_clients_get_their_own_seeded_answers(sharedllm_loaded):
    settings = Settings(served_model_name=MODEL, max_active=4, max_queue=8, max_tokens_limit=64)
    app = create_app(settings, sharedllm_loaded)
    with serve_in_thread(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
        alone = [_ask(client, i, "alone") for i in range(4)]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(lambda i: _ask(client, i, "together"), range(4)))
        scheduler = app.state.chat.scheduler
        assert scheduler.peak_active >= 2  # they really were decoded side by side,
        assert scheduler.batched_steps > 0  # in batched forward passes
    assert together == alone
    assert len(set(alone)) == 4  # and each client got its own answer
    assert app.state.chat.contexts.stats.chunks_encoded > 0  # the long ones did use context chunks
