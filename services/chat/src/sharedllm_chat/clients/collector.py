"""Contributing opted-in conversations to the ShareLM collector, through its public API and a token.

Without a configured token the client registers itself as a contributor once (`POST /v1/contributors`)
and keeps the token it gets. Posting a conversation is idempotent by conversation_id on the collector's
side, so every new turn or rating simply posts the latest state again. One call is one try: the retries
are the caller's (clients/contributions.py), told apart by `CollectorError.retryable`.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from sharelm import Conversation

log = logging.getLogger(__name__)

# Worth another try: the collector is busy, restarting or briefly unable to reach its database.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class CollectorError(Exception):
    def __init__(self, message: str, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable, self.retry_after_s = retryable, retry_after_s


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
                resp = await self._send("POST", "/v1/contributors", "registering as a contributor")
                self.token = resp.json()["token"]
            return self.token

    async def contribute(self, conversation: Conversation) -> dict:
        """POST the conversation; returns the collector's answer ({"conversation_id", "status"})."""
        token = await self._ensure_token()
        resp = await self._send(
            "POST",
            "/v1/conversations",
            "posting the conversation",
            json=conversation.model_dump(mode="json"),
            headers={"Authorization": f"Bearer {token}"},
        )
        return resp.json()

    async def _send(self, method: str, path: str, doing: str, **kwargs) -> httpx.Response:
        try:
            resp = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # refused, reset, timed out: the collector may come back
            raise CollectorError(
                f"collector unreachable when {doing}: {type(exc).__name__}: {exc}", True
            ) from exc
        if resp.status_code >= 400:
            raise CollectorError(
                f"collector answered {resp.status_code} when {doing}: {resp.text[:500]}",
                resp.status_code in RETRYABLE_STATUS,
                _retry_after(resp),
            )
        return resp


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "")
    return float(value) if value.isascii() and value.isdigit() else None
