"""Progress events: what the ServerApp emits reaches the listener, in order; no listener is harmless."""

from __future__ import annotations

import time

from crosslm.events import EventSink, listen
from crosslm.overrides import parse_overrides


def test_events_reach_the_listener_in_order():
    got = []
    with listen(got.append) as address:
        sink = EventSink(address)
        for i in range(5):
            sink.emit("progress", what="LLM eval", done=i + 1, total=5)
        sink.emit("round", record={"round": 1})
        sink.close()
        deadline = time.time() + 5
        while len(got) < 6 and time.time() < deadline:
            time.sleep(0.05)
    assert [e["kind"] for e in got] == ["progress"] * 5 + ["round"] and got[4]["done"] == got[4]["total"]
    EventSink("").emit("round", record={})  # a bare `flwr run`: nowhere to send, nothing breaks


def test_overrides_read_toml_values():
    assert parse_overrides(["a=1", "b=0.5", "c=true", 'd="x y"', "e=plain"]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "x y",
        "e": "plain",
    }
