"""Step 4: a long chat through the `openai` client, a rating, and the chat contributed to the collector."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import httpx
from openai import OpenAI

from demo.services import DemoError
from sharelm.sources.chatterbot import load_corpus

CONVERSATION_ID = "demo-long-chat"


@dataclass
class ChatResult:
    turns: int = 0
    history_tokens: list[int] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    chunks_encoded: int = 0
    chunks_reused: int = 0
    rated_message_index: int = 0
    contributed: bool = False
    # What was said: each turn's user message (its end) and the reply of the served (trained default) model.
    exchanges: list[dict] = field(default_factory=list)


def _user_turns(words_per_turn: int):
    """Real human-written text for the user's messages: ChatterBot dialogs pasted as long messages."""
    lines = (m.content for c in load_corpus(("english",)) for m in c.conversation)
    while True:
        words: list[str] = []
        for line in lines:
            words += line.split()
            if len(words) >= words_per_turn:
                break
        yield "Please keep this in mind: " + " ".join(words)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "_total "):
            return float(line.split()[-1])
    return 0.0


def _stream_turn(
    client: OpenAI, model: str, history: list[dict], seed: int, secret: str | None
) -> tuple[str, float, int, str | None]:
    """One turn; the conversation's secret comes back in the first turn's first chunk (an open chat
    service binds the conversation to it) and goes with every later turn."""
    start = time.perf_counter()
    ttft, parts, prompt_tokens = None, [], 0
    stream = client.chat.completions.create(
        model=model,
        messages=history,
        max_tokens=32,
        seed=seed,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"conversation_id": CONVERSATION_ID, "contribute": True},
        extra_headers={"X-Conversation-Secret": secret} if secret else None,
    )
    for chunk in stream:
        secret = secret or (chunk.model_extra or {}).get("conversation_secret")
        if chunk.usage is not None:
            prompt_tokens = chunk.usage.prompt_tokens
        if chunk.choices and chunk.choices[0].delta.content is not None:
            ttft = ttft if ttft is not None else time.perf_counter() - start
            parts.append(chunk.choices[0].delta.content)
    if ttft is None:
        raise DemoError("the chat service streamed no token")
    return "".join(parts), ttft, prompt_tokens, secret


def long_chat(
    chat_url: str, collector_url: str, collector_token: str, turns: int, words_per_turn: int, progress
) -> ChatResult:
    client = OpenAI(base_url=chat_url + "/v1", api_key="demo", max_retries=0, timeout=600)
    model = client.models.list().data[0].id
    result, history, secret = ChatResult(), [], None
    task = progress.add_task("chat turns", total=turns)
    for turn, text in enumerate(itertools.islice(_user_turns(words_per_turn), turns)):
        history.append({"role": "user", "content": text})
        reply, ttft, prompt_tokens, secret = _stream_turn(client, model, history, seed=turn, secret=secret)
        history.append({"role": "assistant", "content": reply})
        result.exchanges.append({"turn": turn + 1, "user_end": text[-160:], "assistant": reply})
        result.ttft_s.append(round(ttft, 4))
        result.history_tokens.append(prompt_tokens)
        progress.advance(task)
    result.turns = turns

    metrics = httpx.get(chat_url + "/metrics", timeout=10).text
    result.chunks_encoded = int(_metric(metrics, "chat_context_chunks_encoded"))
    result.chunks_reused = int(_metric(metrics, "chat_context_chunks_reused"))

    mine = {"X-Conversation-Secret": secret or ""}
    rating = httpx.post(
        f"{chat_url}/v1/conversations/{CONVERSATION_ID}/rating",
        json={"message_index": 0, "rating": 1},
        headers=mine,
        timeout=30,
    )
    if rating.status_code >= 400:
        raise DemoError(f"rating a response: HTTP {rating.status_code} {rating.text[:300]}")
    result.contributed = _wait_contributed(
        chat_url, mine, collector_url, collector_token, expected_turns=turns
    )
    return result


def _wait_contributed(
    chat_url: str, mine: dict, collector_url: str, token: str, expected_turns: int, timeout_s: float = 60
) -> bool:
    """The service contributes in the background: poll the collector until the whole rated chat is there."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        state = httpx.get(f"{chat_url}/v1/conversations/{CONVERSATION_ID}", headers=mine, timeout=10).json()
        filed_as = state["contribution"].get("collector_conversation_id")
        if not filed_as:  # not sent yet (pending or retrying)
            time.sleep(0.5)
            continue
        resp = httpx.get(f"{collector_url}/v1/conversations/{filed_as}", headers=headers, timeout=10)
        if resp.status_code == 200:
            last = resp.json()
            n_assistant = sum(m["role"] == "assistant" for m in last["conversation"])
            if n_assistant == expected_turns and last["conversation_metadata"]["message_ratings"][:1] == [1]:
                return True
        time.sleep(0.5)
    raise DemoError(
        f"the chat did not reach the collector with its rating in {timeout_s:.0f} s "
        f"(last seen: {str(last)[:300]})"
    )
