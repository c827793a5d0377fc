"""Contributing opted-in conversations to the ShareLM collector, through its public API and a token.

Without a configured token the client registers itself as a contributor once (`POST /v1/contributors`)
and keeps the token it gets. Posting a conversation is idempotent by conversation_id on the collector's
side, so every new turn or rating simply posts the latest state again.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from sharelm import Conversation

log = logging.getLogger(__name__)


class CollectorError(Exception):
    pass


class CollectorClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)
        self._register_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _ensure_token(self) -> str:
        async with self._register_lock:
            if self.token is None:
                resp = await self._http.post("/v1/contributors")
                self._check(resp, "registering as a contributor")
                self.token = resp.json()["token"]
            return self.token

    async def contribute(self, conversation: Conversation) -> dict:
        """POST the conversation; returns the collector's answer ({"conversation_id", "status"})."""
        token = await self._ensure_token()
        resp = await self._http.post(
            "/v1/conversations",
            json=conversation.model_dump(mode="json"),
            headers={"Authorization": f"Bearer {token}"},
        )
        self._check(resp, "posting the conversation")
        return resp.json()

    @staticmethod
    def _check(resp: httpx.Response, doing: str) -> None:
        if resp.status_code >= 400:
            raise CollectorError(f"collector answered {resp.status_code} when {doing}: {resp.text[:500]}")
