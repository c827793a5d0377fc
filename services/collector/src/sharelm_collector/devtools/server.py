"""Run `sharelm-collector serve` as a real subprocess (its own process group, so a SIGKILL takes the
uvicorn supervisor and every worker at once), for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sharelm_collector.devtools.postgres import free_port


class CollectorServer:
    def __init__(
        self, database_url: str, workdir: Path, *, workers: int = 2, env: dict[str, str] | None = None
    ):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workers = workers
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, migrate: bool = True, wait: str = "ready") -> CollectorServer:
        """Start, and wait until /readyz answers 200 (`wait="ready"`) or /healthz does (`wait="up"`: the
        process serves, whatever the state of its database)."""
        env = {**os.environ, "DATABASE_URL": self.database_url, **self.env}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if getattr(self, "log", None):  # a restart: the earlier run's handle
            self.log.close()
        self.log = open(self.workdir / f"server-{self.port}.log", "ab")  # noqa: SIM115 (lives with the server)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sharelm_collector", "serve", "--port", str(self.port),
             "--workers", str(self.workers), "--migrate" if migrate else "--no-migrate"],
            env=env, cwd=self.workdir, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.read_log()[-2000:]}")
            try:
                probe = "/readyz" if wait == "ready" else "/healthz"
                if httpx.get(self.url + probe, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"server not ready after {timeout} s: {self.read_log()[-2000:]}")

    def pids(self) -> list[int]:
        """The supervisor and its workers (Linux: read from /proc)."""
        if self.proc is None:
            return []
        found = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:  # PPID
                found.append(int(stat.parent.name))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the supervisor and its workers (Linux)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def read_log(self) -> str:
        return (self.workdir / f"server-{self.port}.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handlers, no flushing."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc:
            # uvicorn's workers are in the same group: make sure none outlives the supervisor.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> CollectorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
