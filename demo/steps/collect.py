"""Step 1: contributors give real dialogs to the collector over HTTP, rate some, delete some."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from demo.services import DemoError
from sharelm import Conversation
from sharelm.sources.chatterbot import load_corpus

# Plugin-format uploads, as the public ShareLM extension sends them (with PII the collector must redact).
PLUGIN_UPLOADS = [
    {
        "conversation_id": f"plugin-demo-{i}",
        "user_msgs": [user, "thanks! my email is jane.doe@example.org if you need it"],
        "bot_msgs": [bot, "You're welcome."],
        "page_url": "https://chat.example.com/c/abc123?session=secret#frag",
        "user_id": "plugin-user",
        "user_metadata": {"age": "30", "gender": "", "location": ""},
        "timestamp": "2026-11-26T10:00:00Z",
        "conversation_metadata": {"message_ratings": [1, 0], "rate": "thumbup"},
    }
    for i, (user, bot) in enumerate(
        [
            ("How do I reverse a list in Python?", "Use `reversed(xs)` or `xs[::-1]`."),
            ("Call me at +1 415 555 0100 about the invoice", "I cannot make calls, but here is a template."),
            ("What is the capital of Peru?", "Lima."),
        ]
    )
]


@dataclass
class CollectResult:
    contributors: int = 0
    uploaded: int = 0
    plugin_uploads: int = 0
    rated: int = 0
    deleted: int = 0
    kept_ids: set[str] = field(default_factory=set)
    deleted_ids: set[str] = field(default_factory=set)
    topics: dict[str, int] = field(default_factory=dict)


# How the demo's contributors rate an answer (they stand in for people): short and to the point is liked.
LIKED_MAX_WORDS = 8
RATED = 400  # conversations rated (their first answer): response mode's reward models learn from these


def likes(answer: str) -> bool:
    """The demo's stated rating rule: an answer of at most LIKED_MAX_WORDS words is liked."""
    return 0 < len(answer.split()) <= LIKED_MAX_WORDS


def _check(resp: httpx.Response, what: str) -> dict[str, Any]:
    if resp.status_code >= 400:
        raise DemoError(f"{what}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp.json() if resp.content else {}


def create_contributor(base_url: str) -> str:
    """A new contributor's bearer token."""
    return _check(httpx.post(base_url + "/v1/contributors", timeout=30), "create contributor")["token"]


def _new_contributor(client: httpx.Client) -> httpx.Client:
    token = create_contributor(str(client.base_url).rstrip("/"))
    return httpx.Client(
        base_url=str(client.base_url), headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def collect(
    base_url: str, contributors: int, max_conversations: int | None, seed: int, progress
) -> CollectResult:
    rng = random.Random(seed)
    convs: list[Conversation] = list(itertools.islice(load_corpus(("english",)), max_conversations))
    rng.shuffle(convs)
    result = CollectResult()
    with httpx.Client(base_url=base_url, timeout=60) as anon:
        clients = [_new_contributor(anon) for _ in range(contributors)]
        result.contributors = len(clients)
        task = progress.add_task("uploading dialogs", total=len(convs) + len(PLUGIN_UPLOADS))
        owner: dict[str, httpx.Client] = {}
        for start in range(0, len(convs), 100):
            batch = convs[start : start + 100]
            client = clients[(start // 100) % len(clients)]
            body = {"conversations": [c.model_dump(mode="json") for c in batch]}
            _check(client.post("/v1/conversations/batch", json=body), "batch upload")
            owner.update((c.conversation_id, client) for c in batch)
            result.uploaded += len(batch)
            progress.advance(task, len(batch))
        for payload in PLUGIN_UPLOADS:
            answer = _check(anon.post("/api/endpoint", json=payload), "plugin upload")
            if answer.get("message") != "Conversation saved successfully":
                raise DemoError(f"plugin upload: unexpected answer {answer}")
            result.plugin_uploads += 1
            progress.advance(task)

        ids = sorted(owner)
        by_id = {c.conversation_id: c for c in convs}
        rated = [cid for cid in ids if by_id[cid].num_assistant_turns]
        for cid in rng.sample(rated, k=min(RATED, len(rated))):
            # The demo has no people: contributors rate the first answer by LIKES (the conversation alike).
            first = by_id[cid].assistant_messages()[0].content
            up = likes(first)
            body = {"rate": "thumbup" if up else "thumbdown", "message_ratings": [1 if up else -1]}
            _check(owner[cid].patch(f"/v1/conversations/{cid}/rating", json=body), "rate")
            result.rated += 1
        for cid in rng.sample(ids, k=min(10, len(ids))):
            resp = owner[cid].delete(f"/v1/conversations/{cid}")
            if resp.status_code != 204:
                raise DemoError(f"delete {cid}: HTTP {resp.status_code} {resp.text[:200]}")
            result.deleted_ids.add(cid)
        result.deleted = len(result.deleted_ids)
        result.kept_ids = set(ids) - result.deleted_ids
        for c in clients:
            c.close()
    for c in convs:
        if c.conversation_id in result.kept_ids:
            topic = c.conversation_metadata.extra.get("topic", "?")
            result.topics[topic] = result.topics.get(topic, 0) + 1
    return result
