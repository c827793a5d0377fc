"""The load generator: wrk (C, epoll; `apt-get install -y wrk`) with `plugin_upload.lua`, pinned to its own
CPUs with taskset, so that 64 connections cost the client little and never the servers' cores.

`run_wrk` returns wrk's JSON (requests, 2xx, non-2xx, socket errors, throughput of 2xx answers, latency
percentiles in ms) plus the client's CPU seconds, and leaves the acknowledged conversation ids in a file."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("plugin_upload.lua")
PATH = "/api/endpoint"


def wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise FileNotFoundError("wrk is not installed: apt-get install -y wrk")
    return found


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(url: str, clients: int, seconds: float, *, cpus: set[int] | None, ids_file: Path | None,
            timeout_s: float = 10.0) -> dict:
    """One closed-loop wrk run: `clients` connections, as many threads as load CPUs (at most one per
    connection), each request a fresh upload."""
    threads = max(1, min(clients, len(cpus) if cpus else 1))
    cmd = [wrk(), f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s:g}s",
           "-s", str(SCRIPT), url + PATH, "--", os.urandom(4).hex(), str(ids_file) if ids_file else "-"]
    if cpus:
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *cmd]
    cpu0 = children_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 60)
    client_cpu = children_cpu() - cpu0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {out.returncode}:\n{out.stdout}\n{out.stderr}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    result = json.loads(lines[-1])
    result.update(clients=clients, threads=threads, client_cpu_s=client_cpu,
                  socket_errors_total=sum(result["socket_errors"].values()))
    return result
