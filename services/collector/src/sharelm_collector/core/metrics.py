"""Prometheus metrics. With several workers `sharelm-collector serve` sets PROMETHEUS_MULTIPROC_DIR before
any worker imports prometheus_client, and /metrics aggregates every worker's files."""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("sharelm_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "sharelm_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
STORED = Counter("sharelm_conversations_stored_total", "Conversations stored", ["status"])
DELETED = Counter("sharelm_conversations_deleted_total", "Conversations deleted")
REDACTIONS = Counter("sharelm_redactions_total", "Redacted spans by type", ["type"])
RATE_LIMITED = Counter("sharelm_rate_limited_total", "Requests refused with 429", ["scope"])
EXPORT_SKIPPED = Counter("sharelm_export_skipped_rows_total", "Rows GET /v1/export skipped (invalid)")


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every request by its route template (not its raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            requests, latency = _children(scope["method"], route, status)
            requests.inc()
            latency.observe(time.perf_counter() - start)


_CHILDREN: dict[tuple[str, str, int], tuple] = {}


def _children(method: str, route: str, status: int) -> tuple:
    """The labelled counter and histogram, looked up once per (method, route template, status): `labels()`
    costs a lock and a tuple of strings per call. As bounded as the metric's own children: methods are the
    HTTP parser's fixed set, routes the router's templates (an unknown path is "unmatched")."""
    key = (method, route, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = _CHILDREN[key] = (REQUESTS.labels(method, route, str(status)),
                                     LATENCY.labels(method, route))
    return children
