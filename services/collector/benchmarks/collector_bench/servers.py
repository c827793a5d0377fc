"""The reference baseline under gunicorn, CPU pinning of process trees, and the stored-row check."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from sharelm_collector.devtools.postgres import free_port

BENCHMARKS = Path(__file__).resolve().parent.parent  # holds reference_backend/


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    with socket.socket() as s:  # nothing listening either (a server bound with SO_REUSEADDR)
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def tree(pid: int) -> list[int]:
    """A process and all its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def pin(pid: int, cpus: set[int] | None) -> None:
    """Pin every thread of a process tree to `cpus` (what `taskset -a -p` does, for the whole tree); children
    forked later (PostgreSQL backends, anyio threads) inherit it."""
    if not cpus:
        return
    for p in tree(pid):
        for task in Path(f"/proc/{p}/task").glob("[0-9]*"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.sched_setaffinity(int(task.name), cpus)


def affinity(pid: int) -> list[int]:
    """The CPUs each process of a tree may run on, merged (a check that pinning took)."""
    cpus: set[int] = set()
    for p in tree(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            cpus |= os.sched_getaffinity(p)
    return sorted(cpus)


def create_reference_schema(database_url: str) -> None:
    from reference_backend.schema import create_schema  # benchmarks/ is on sys.path (run.py puts it there)

    engine = create_engine(database_url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


class ReferenceServer:
    """`gunicorn --workers N --worker-class sync reference_backend.app:app` in its own process group (the
    Popen pid is gunicorn's own: no shell in between), after creating its table once."""

    def __init__(self, database_url: str, workdir: Path, *, workers: int = 2):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ReferenceServer:
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken")
        env = {**os.environ, "DATABASE_URL": self.database_url,
               "PYTHONPATH": os.pathsep.join([str(BENCHMARKS), os.environ.get("PYTHONPATH", "")])}
        create_reference_schema(self.database_url)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.workdir / f"reference-{self.port}.log", "ab")  # noqa: SIM115 (lives with the server)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "reference_backend.app:app"],
            env=env, cwd=BENCHMARKS, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.read_log()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                # Only POST is routed: a 405 to a GET means a worker serves.
                if httpx.get(self.url + "/api/endpoint", timeout=1.0).status_code == 405:
                    return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"reference not ready after {timeout} s: {self.read_log()[-2000:]}")

    def read_log(self) -> str:
        return (self.workdir / f"reference-{self.port}.log").read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            # SIGINT: gunicorn's quick shutdown (SIGTERM waits for idle sync workers to notice, seconds).
            os.killpg(self.proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stored_ids(database_url: str) -> dict[str, int]:
    """conversation_id -> number of rows, from a server's `conversations` table (both servers name it so)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT conversation_id, count(*) FROM conversations GROUP BY 1"))
            return {cid: n for cid, n in rows}
    finally:
        engine.dispose()


def check_stored(database_url: str, acked: set[str]) -> dict:
    """Rows stored vs uploads acknowledged (2xx) so far: every acknowledged id must be there, exactly once."""
    stored = stored_ids(database_url)
    missing = [cid for cid in acked if cid not in stored]
    duplicated = [cid for cid in acked if stored.get(cid, 0) > 1]
    return {"rows": sum(stored.values()), "acknowledged": len(acked), "missing": len(missing),
            "duplicated": len(duplicated), "ok": not missing and not duplicated}
