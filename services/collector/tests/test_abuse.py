"""Abuse, each against a server of its own settings (SQLite, one worker so that every limit is whole):
forwarded addresses believed only from configured proxies, failed authentications limited per address and
per credential (a lockout), the operator route throttled, message counts capped before a body is validated
in full, and oversized bodies answered in a way clients that send the whole body first can read."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import httpx
import pytest

from sharelm_collector.devtools.samples import conversation, plugin_upload
from sharelm_collector.devtools.server import CollectorServer

OPERATOR = "operator-token-for-the-abuse-tests"
UNLIMITED = {f"SHARELM_COLLECTOR_RATE_LIMIT_{name}": "0" for name in (
    "PER_IP", "PER_CONTRIBUTOR", "SIGNUPS_PER_IP", "OPERATOR_PER_IP", "AUTH_FAILURES_PER_IP",
    "AUTH_FAILURES_PER_CREDENTIAL")}


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """serve(**env): a started server with these settings on a fresh SQLite database, stopped at the end."""
    servers = []

    def start(**env) -> CollectorServer:
        tmp = tmp_path_factory.mktemp("abuse")
        full = {**UNLIMITED, "SHARELM_OPERATOR_TOKEN": OPERATOR,
                **{f"SHARELM_COLLECTOR_{k.upper()}": str(v) for k, v in env.items()}}
        server = CollectorServer(f"sqlite:///{tmp / 'db.sqlite'}", tmp, workers=1, env=full).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def _upload_from(client: httpx.Client, address: str) -> int:
    return client.post("/api/endpoint", json=plugin_upload(), headers=_xff(address)).status_code


# --- forwarded addresses -----------------------------------------------------------------------------------


def test_forwarded_addresses_are_not_believed_by_default(serve):
    """A client on the same host (or anywhere) cannot pick its own address: 127.0.0.1 is no proxy unless
    configured, so every request here counts against the one real peer address."""
    server = serve(rate_limit_per_ip=5, rate_limit_signups_per_ip=3)
    with httpx.Client(base_url=server.url) as client:
        signups = [client.post("/v1/contributors", headers=_xff(f"203.0.113.{i}")).status_code
                   for i in range(5)]
        assert signups[:3] == [201] * 3 and signups[3:] == [429, 429]
        codes = [client.get("/healthz").status_code]  # operations routes are not limited
        codes += [_upload_from(client, f"198.51.100.{i}") for i in range(6)]
        assert 429 in codes


def test_forwarded_addresses_from_a_configured_proxy_are_believed(serve):
    server = serve(rate_limit_per_ip=3, forwarded_allow_ips="127.0.0.1")
    with httpx.Client(base_url=server.url) as client:
        codes = [_upload_from(client, f"198.51.100.{i}") for i in range(8)]
        assert codes == [200] * 8  # eight clients behind the proxy: each has its own allowance
        same = [_upload_from(client, "198.51.100.99") for _ in range(5)]
        assert same[:3] == [200] * 3 and 429 in same[3:]


# --- failed authentications ----------------------------------------------------------------------------


def test_failed_authentications_lock_an_address_out(serve):
    server = serve(rate_limit_auth_failures_per_ip=5, rate_limit_auth_failures_per_credential=1000)
    with httpx.Client(base_url=server.url) as client:
        token = client.post("/v1/contributors").json()["token"]
        wrong = [client.get("/v1/conversations", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                 for i in range(5)]
        assert wrong == [401] * 5
        r = client.get("/v1/conversations", headers={"Authorization": "Bearer guess-6"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # Locked out: the right token from this address waits too (guessing cannot go on between its uses).
        r = client.get("/v1/conversations", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 429 and "failed authentications" in r.json()["detail"]
        r = client.post("/api/endpoint", json=plugin_upload(), headers={"Authorization": "Bearer guess-7"})
        assert r.status_code == 429
        assert "sharelm_rate_limited_total{scope=\"auth_failures\"}" in client.get("/metrics").text


def test_failed_authentications_lock_a_credential_out_from_every_address(serve):
    server = serve(rate_limit_auth_failures_per_ip=1000, rate_limit_auth_failures_per_credential=3,
                   forwarded_allow_ips="127.0.0.1")
    with httpx.Client(base_url=server.url) as client:
        # One revoked token tried from many addresses.
        codes = [client.get("/v1/conversations", headers={"Authorization": "Bearer revoked",
                                                          **_xff(f"203.0.113.{i}")}).status_code
                 for i in range(5)]
        assert codes[:3] == [401] * 3 and codes[3:] == [429, 429]
        # The operator token is one credential however it is guessed: wrong tries from many addresses.
        codes = [client.get("/v1/export", headers={"Authorization": f"Bearer guess-{i}",
                                                   **_xff(f"198.51.100.{i}")}).status_code
                 for i in range(5)]
        assert codes[:3] == [403] * 3 and codes[3:] == [429, 429]


def test_the_operator_route_is_throttled(serve):
    server = serve(rate_limit_operator_per_ip=3)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {OPERATOR}"}) as client:
        codes = [client.get("/v1/export").status_code for _ in range(5)]
        assert codes[:3] == [200] * 3 and codes[3:] == [429, 429]
        with httpx.Client(base_url=server.url) as anonymous:  # wrong tokens count too
            assert anonymous.get("/v1/export", headers={"Authorization": "Bearer x"}).status_code == 429


# --- message counts capped before the body is validated in full -----------------------------------------


def test_message_counts_are_capped_before_the_body_is_validated(serve):
    """2 MB bodies of tiny messages cost seconds of CPU before their 413 when every message is built first."""
    server = serve(max_body_bytes=2 * 1024 * 1024 + 1024)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        auth = {"Authorization": f"Bearer {client.post('/v1/contributors').json()['token']}"}
        n = 250_000
        tiny = {"role": "user", "content": ""}
        bodies = [
            ("/api/endpoint", {"conversation_id": "many", "user_msgs": ["a"] * n, "bot_msgs": ["b"] * n}),
            ("/v1/conversations", {"conversation_id": "many", "conversation": [tiny] * 60_000}),
            ("/v1/conversations/batch", {"conversations": [{"conversation": [tiny]}] * 35_000}),
        ]
        for path, body in bodies:
            payload = json.dumps(body, separators=(",", ":")).encode()
            assert len(payload) < 2 * 1024 * 1024
            cpu = server.cpu_seconds()
            r = client.post(path, content=payload, headers={**auth, "content-type": "application/json"})
            used = server.cpu_seconds() - cpu
            assert r.status_code == 413 and "over the cap" in r.text, (path, r.text[:300])
            # Parsing the JSON is all it may cost (tens of ms); building every message cost 0.5-3.5 s.
            assert used < 0.4, f"{path}: {used:.2f} s of server CPU for a 413"
        blanks = {"user_msgs": [" "] * 5000 + ["real"], "bot_msgs": ["ok"]}  # blanks are dropped, not counted
        assert client.post("/api/endpoint", json=blanks).status_code == 200


# --- oversized bodies, answered readably ----------------------------------------------------------------


def test_an_oversized_body_gets_a_readable_413(serve):
    """Clients that send the whole body before reading (urllib, http.client) read the 413 instead of a reset
    or a broken pipe: the server drains the body (up to a bound) before it answers and closes."""
    server = serve()
    big = b"x" * (30 * 1024 * 1024)
    url = server.url + "/api/endpoint"
    req = urllib.request.Request(url, data=big, headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=60)
    assert exc.value.code == 413 and b"over the cap" in exc.value.read()

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", "/v1/conversations", body=big, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 413 and b"over the cap" in resp.read()
    conn.close()

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)  # chunked, no length declared
    conn.request("POST", "/api/endpoint", body=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                 headers={"content-type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413 and b"over the cap" in resp.read()
    conn.close()


def test_a_client_waiting_for_100_continue_gets_the_413_at_once(serve):
    server = serve()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/endpoint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 31457280\r\nExpect: 100-continue\r\n\r\n")
        start = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - start < 5, answer


def test_a_body_within_the_cap_after_an_oversized_one_is_served(serve):
    server = serve()
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/api/endpoint", content=b"x" * (3 * 1024 * 1024),
                           headers={"content-type": "application/json"}).status_code == 413
        auth = {"Authorization": f"Bearer {client.post('/v1/contributors').json()['token']}"}
        assert client.post("/v1/conversations", json=conversation(), headers=auth).status_code == 201
