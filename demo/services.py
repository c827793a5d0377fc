"""Start the platform's services as real subprocesses on loopback and stop them again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


class DemoError(RuntimeError):
    """A demo step failed; the message says which and why, and is all the user sees."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_command(name: str) -> str:
    """A console script installed next to this interpreter (the .venv's bin/)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise DemoError(f"`{name}` is not installed in {path.parent}: run `make install` first")
    return str(path)


class Service:
    """A server process whose readiness is an HTTP 200 on `ready_path`; its log goes to a file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        log_path: Path,
        env: dict[str, str],
        ready_path: str = "/healthz",
        ready_timeout: float = 180.0,
    ):
        self.name, self.argv, self.port, self.log_path = name, argv, port, log_path
        self.env = {**os.environ, **env}
        self.ready_path, self.ready_timeout = ready_path, ready_timeout
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its whole life
        # Own process group: stopping the service also stops its uvicorn workers.
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoError(
                    f"{self.name} exited with code {self.proc.returncode} at start; "
                    f"last lines of {self.log_path}:\n{self.tail()}"
                )
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise DemoError(
            f"{self.name} not ready after {self.ready_timeout:.0f} s; see {self.log_path}:\n{self.tail()}"
        )

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
