"""HTTP-level faults over a real uvicorn server on loopback (issue 14, items 9, 13, 14): a 500 keeps the
keep-alive connection usable, bodies over the cap get 413 before anything parses them, and clients that
send the whole body before reading (http.client, urllib) can read that 413."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from sharedllm_chat.background_server import serve_in_thread
from sharedllm_chat.main import create_app
from sharedllm_chat.settings import Settings

MODEL = "test-model"
CAP = Settings().max_body_bytes  # the default cap: 8 MiB


def _hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def _big_body(size: int) -> bytes:
    """A valid chat request padded to `size` bytes: only its size is wrong."""
    head = b'{"model": "test-model", "messages": [{"role": "user", "content": "'
    tail = b'"}]}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_500_leaves_the_keep_alive_connection_usable(llama_loaded):
    app = create_app(Settings(served_model_name=MODEL), llama_loaded)

    @app.get("/boom")
    def boom():  # fault injection: a bug the handlers do not know
        raise RuntimeError("a bug")

    with serve_in_thread(app) as url:
        conn = http.client.HTTPConnection(*_hostport(url), timeout=30)
        conn.request("GET", "/boom")
        resp = conn.getresponse()
        raw = resp.read()
        assert resp.status == 500
        for _ in range(2):  # the same connection goes on serving (it used to be reset)
            conn.request("GET", "/healthz")
            again = conn.getresponse()
            assert again.status == 200 and json.loads(again.read())["status"] == "ok"
        error = json.loads(raw)["error"]  # OpenAI's shape, and nothing of the exception
        assert error["type"] == "server_error" and "a bug" not in error["message"]
        conn.close()


def _assert_413(status: int, raw: bytes) -> None:
    assert status == 413
    error = json.loads(raw)["error"]
    assert error["code"] == "request_too_large" and str(CAP) in error["message"]


def test_http_client_sending_30mb_reads_the_413(llama_server):
    conn = http.client.HTTPConnection(*_hostport(llama_server), timeout=60)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=_big_body(30 * 2**20),
        headers={"Content-Type": "application/json"},
    )
    resp = conn.getresponse()  # a broken pipe or a reset before the drain
    _assert_413(resp.status, resp.read())
    conn.close()


def test_urllib_sending_30mb_reads_the_413(llama_server):
    req = urllib.request.Request(
        f"{llama_server}/v1/chat/completions",
        data=_big_body(30 * 2**20),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=60)
    _assert_413(err.value.code, err.value.read())


def test_chunked_body_over_the_cap_is_cut_off(llama_server):
    def chunks():  # no Content-Length: counted as it arrives
        body = _big_body(CAP + 2**20)
        for i in range(0, len(body), 2**16):
            yield body[i : i + 2**16]

    resp = httpx.post(f"{llama_server}/v1/chat/completions", content=chunks(), timeout=60)
    _assert_413(resp.status_code, resp.content)


def test_expect_100_continue_gets_413_before_sending(llama_server):
    with socket.create_connection(_hostport(llama_server), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 209715200\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413")  # no "100 Continue": the 200 MB never need be sent


def test_a_200mb_body_is_not_parsed(llama_server):
    body = _big_body(200 * 2**20)
    rss = psutil.Process().memory_info().rss
    conn = http.client.HTTPConnection(*_hostport(llama_server), timeout=60)
    try:
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # past the drain bound (64 MiB) the server closes: this one may not read the answer
    finally:
        conn.close()
    grown = psutil.Process().memory_info().rss - rss
    assert grown < 64 * 2**20, f"RSS grew {grown / 2**20:.0f} MiB"  # parsing it cost 556 MiB
    assert httpx.get(f"{llama_server}/healthz").status_code == 200
