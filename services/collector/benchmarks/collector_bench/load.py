"""The load process: N concurrent keep-alive HTTP/1.1 clients on asyncio streams, each uploading a fresh
~1 KB conversation per request, timing every request. Kept minimal (no HTTP library) so that the client,
which shares the machine's cores with the server, costs as little CPU as possible.

    python collector_bench/load.py --url http://127.0.0.1:8000 --token T --clients 16 --seconds 5
prints one JSON object: requests, errors, throughput, latency percentiles (ms), the client's CPU seconds."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import uuid
from urllib.parse import urlsplit

from sharelm_collector.devtools.samples import kilobyte_conversation, plugin_upload

ROUTES = {"v1": "/v1/conversations", "plugin": "/api/endpoint"}


def request_bytes(host: str, path: str, token: str | None, route: str) -> bytes:
    if route == "plugin":
        conv = kilobyte_conversation()
        users = [m["content"] for m in conv["conversation"] if m["role"] == "user"]
        bots = [m["content"] for m in conv["conversation"] if m["role"] == "assistant"]
        body = plugin_upload(str(uuid.uuid4()), user_msgs=users, bot_msgs=bots)
    else:
        body = kilobyte_conversation(uuid.uuid4().hex)
    payload = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def client(host: str, port: int, path: str, token: str | None, route: str, t_start: float,
                 t_end: float, latencies: list[float], errors: list[int], expect: tuple[int, ...],
                 done: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            req = request_bytes(f"{host}:{port}", path, token, route)
            t0 = time.perf_counter()
            if t0 >= t_end:
                return
            writer.write(req)
            status = await read_response(reader)
            t1 = time.perf_counter()
            done[0] += 1  # every answered request, warm-up included: the server's CPU covers them all
            if t0 >= t_start and t1 <= t_end:  # only requests wholly inside the measured window
                if status in expect:
                    latencies.append(t1 - t0)
                else:
                    errors.append(status)
    finally:
        writer.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def run(url: str, token: str | None, clients: int, seconds: float, warmup: float, route: str) -> dict:
    parts = urlsplit(url)
    t_start = time.perf_counter() + warmup
    t_end = t_start + seconds
    latencies: list[float] = []
    errors: list[int] = []
    done = [0]
    expect = (200,) if route == "plugin" else (201,)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(client(parts.hostname, parts.port, ROUTES[route], token, route, t_start, t_end,
                                  latencies, errors, expect, done) for _ in range(clients)))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    return {
        "clients": clients, "route": route, "seconds": seconds, "requests": len(latencies),
        "errors": len(errors), "error_statuses": sorted(set(errors)), "all_requests": done[0],
        "throughput": len(latencies) / seconds,
        "p50_ms": 1000 * percentile(latencies, 0.50), "p90_ms": 1000 * percentile(latencies, 0.90),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "client_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--token")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--route", choices=sorted(ROUTES), default="v1")
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.url, a.token, a.clients, a.seconds, a.warmup, a.route))))


if __name__ == "__main__":
    main()
