"""429s: per contributor, per client IP and for sign-ups (a server of its own, with small limits)."""

from __future__ import annotations

import pytest

from sharelm_collector.core.ratelimit import RateLimiter, per_worker
from sharelm_collector.devtools.samples import plugin_upload
from sharelm_collector.devtools.server import CollectorServer


def test_token_bucket_refills():
    limiter = RateLimiter(capacity=2, period=60)
    assert limiter.hit("k", now=0) == 0 and limiter.hit("k", now=0) == 0
    wait = limiter.hit("k", now=0)
    assert wait == pytest.approx(30.0)  # one token per 30 s
    assert limiter.hit("other", now=0) == 0  # keys are independent
    assert limiter.hit("k", now=31) == 0
    assert not RateLimiter(0).enabled and RateLimiter(0).hit("k") == 0


def test_limits_are_shared_between_workers():
    assert per_worker(600, 4).capacity == 150
    assert per_worker(1, 4).capacity == 1  # never below one request of burst
    assert not per_worker(0, 4).enabled


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limited")
    env = {"SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "30", "SHARELM_COLLECTOR_RATE_LIMIT_PER_CONTRIBUTOR": "5",
           "SHARELM_COLLECTOR_RATE_LIMIT_SIGNUPS_PER_IP": "3"}
    with CollectorServer(f"sqlite:///{tmp / 'db.sqlite'}", tmp, workers=1, env=env) as server:
        yield server


def test_rate_limits_are_429(limited):
    import httpx

    with httpx.Client(base_url=limited.url) as client:
        tokens = [client.post("/v1/contributors").json()["token"] for _ in range(3)]
        r = client.post("/v1/contributors")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # sign-ups per IP
        alice, bob = ({"Authorization": f"Bearer {t}"} for t in tokens[:2])
        assert all(client.get("/v1/conversations", headers=alice).status_code == 200 for _ in range(5))
        r = client.get("/v1/conversations", headers=alice)
        assert r.status_code == 429 and "contributor" in r.json()["detail"]
        assert client.get("/v1/conversations", headers=bob).status_code == 200  # Bob has his own budget
        codes = [client.post("/api/endpoint", json=plugin_upload()).status_code for _ in range(40)]
        # 30 per IP per minute with 11 already spent (refilled at 0.5/s while this runs)
        assert codes[0] == 200 and 429 in codes and set(codes) == {200, 429}
        r = client.get("/v1/export", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "no operator token" in r.json()["detail"]  # none configured here
        metrics = client.get("/metrics").text  # operations routes are not limited
        for scope in ("ip", "contributor"):
            assert f'sharelm_rate_limited_total{{scope="{scope}"}}' in metrics
