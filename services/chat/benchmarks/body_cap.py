"""What an oversized body costs a real `sharedllm-chat serve`: the server's peak RSS (sampled every 5 ms)
while http.client sends 30 MB and 200 MB, and what http.client and urllib read back.

    python services/chat/benchmarks/body_cap.py
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _body(size: int) -> bytes:
    head, tail = b'{"model": "sharedllm-tiny", "messages": [{"role": "user", "content": "', b'"}]}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _send(port: int, data: bytes) -> str:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/v1/chat/completions", body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return f"{resp.status} {resp.read()[:60]!r}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def _measure(server: psutil.Process, port: int, label: str, size: int) -> None:
    data = _body(size)
    start_rss = peak = server.memory_info().rss
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    began = time.monotonic()
    outcome = _send(port, data)
    took = time.monotonic() - began
    time.sleep(0.3)
    stop.set()
    watcher.join()
    grown = (peak - start_rss) / 2**20
    print(f"http.client {label}: {outcome} in {took:.2f} s; server peak RSS +{grown:.0f} MiB")


def main() -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "sharedllm_chat.cli", "serve", "--port", str(port), "--log-level", "WARNING"]
    env = {**os.environ, "SHAREDLLM_CHAT_TORCH_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        server = psutil.Process(proc.pid)
        for label, size in (("30 MB", 30 * 2**20), ("200 MB", 200 * 2**20)):
            _measure(server, port, label, size)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            data=_body(30 * 2**20),
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(req, timeout=120)
            print("urllib 30 MB: accepted")
        except urllib.error.HTTPError as exc:
            print(f"urllib 30 MB: {exc.code} {exc.read()[:60]!r}")
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
