"""The client's work runs in a worker process of its own, so that a client process killed outright (the OOM
killer, `os._exit`) fails only its round.

Flower 1.42's Ray backend keeps a ClientApp actor that died in its pool and hands it later messages, which
then all fail (`ActorDiedError`), and its federation config offers no actor restarts. With the work in a
child process, the actor survives: a dead worker becomes an error reply for that round and the next
message starts a new worker.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from typing import Any

_worker: tuple[Any, Any] | None = None  # (process, connection), one per ClientApp actor


class WorkerDied(RuntimeError):
    """The client's worker process ended without answering (killed, or it crashed the interpreter)."""


def _serve(conn) -> None:
    from crosslm.client import run_round

    while True:
        try:
            job = conn.recv()
        except EOFError:  # the actor is gone
            return
        try:
            conn.send(("ok", run_round(*job)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


def _start():
    ctx = mp.get_context("spawn")  # a fresh interpreter: forking a Ray worker's threads is unsafe
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="crosslm-client-worker")
    proc.start()
    child.close()
    return proc, parent


def call(*job) -> Any:
    """`crosslm.client.run_round(*job)` in the worker; a dead worker raises WorkerDied (and is replaced)."""
    global _worker
    if _worker is None or not _worker[0].is_alive():
        _worker = _start()
    proc, conn = _worker
    try:
        conn.send(job)
        while not conn.poll(0.5):
            if not proc.is_alive():
                raise EOFError
        status, payload = conn.recv()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        proc.join(timeout=5)
        _worker = None
        raise WorkerDied(f"the client's worker process died (exit code {proc.exitcode})") from None
    if status == "error":
        raise RuntimeError(payload)
    return payload
