"""Progress as events: the ServerApp pushes JSON lines to a socket the caller (`crosslm run`) listens on.

Events are best effort: a ServerApp without a listener (a bare `flwr run`) just logs, and a listener that
goes away never stops a run. Kinds: "setup", "round_start", "llm_eval" (done/total), "round" (the round's
whole record), "warning", "done".
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("crosslm")


class EventSink:
    """The ServerApp's side: `emit(kind, **fields)` sends one JSON line to host:port (if one is set)."""

    def __init__(self, address: str):
        self.sock = None
        if address:
            host, port = address.rsplit(":", 1)
            with contextlib.suppress(OSError):
                self.sock = socket.create_connection((host, int(port)), timeout=5)

    def emit(self, kind: str, **fields) -> None:
        if kind == "warning":
            log.warning("%s", fields.get("message", ""))
        if self.sock is None:
            return
        try:
            self.sock.sendall((json.dumps({"kind": kind, **fields}) + "\n").encode())
        except OSError:
            self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


@contextlib.contextmanager
def listen(on_event: Callable[[dict], None]) -> Iterator[str]:
    """A local listener calling `on_event` for every event received; yields its "host:port"."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()
    readers: list[threading.Thread] = []

    def read(conn: socket.socket) -> None:
        with conn, conn.makefile("r") as lines:
            for line in lines:
                with contextlib.suppress(json.JSONDecodeError):
                    on_event(json.loads(line))

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            readers.append(threading.Thread(target=read, args=(conn,), daemon=True))
            readers[-1].start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for reader in readers:  # the ServerApp has exited: its last lines are in flight at most
            reader.join(timeout=2)
        server.close()
