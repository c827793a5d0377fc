"""A failed request never leaves work running, and never takes others down (issue 14, item 6): a request
whose listener breaks is cancelled and the rest finish; cancelled requests still queued hold no place."""

from __future__ import annotations

import queue
import threading

import pytest

from sharedllm_chat.engine.context_store import ContextStore
from sharedllm_chat.engine.events import Done, Token
from sharedllm_chat.engine.sampling import SamplingParams
from sharedllm_chat.engine.scheduler import GenerationRequest, QueueFull, Scheduler


def _scheduler(loaded, max_active: int, max_queue: int) -> Scheduler:
    return Scheduler(loaded, ContextStore(None, max_bytes=0), max_active=max_active, max_queue=max_queue)


def _drain(inbox: queue.Queue) -> Done:
    while isinstance(event := inbox.get(timeout=120), Token):
        pass
    assert isinstance(event, Done), event
    return event


def test_a_broken_listener_cancels_its_request_and_spares_the_others(llama_loaded):
    scheduler = _scheduler(llama_loaded, max_active=2, max_queue=4)
    scheduler.start()
    try:
        calls = threading.Event()

        def broken(_event) -> None:  # e.g. the request's event loop is gone
            calls.set()
            raise RuntimeError("listener gone")

        doomed = GenerationRequest([1, 2, 3], SamplingParams(500, min_tokens=500, seed=0), emit=broken)
        inbox: queue.Queue = queue.Queue()
        healthy = GenerationRequest([4, 5, 6], SamplingParams(40, min_tokens=40, seed=1), emit=inbox.put)
        scheduler.submit(doomed)
        scheduler.submit(healthy)
        done = _drain(inbox)
        assert done.finish_reason == "length" and done.completion_tokens == 40  # unharmed
        assert calls.is_set() and doomed.cancelled.is_set()
        assert scheduler.depth == (0, 0)  # nothing of the broken one is still decoding
    finally:
        scheduler.stop()


def test_cancelled_requests_in_the_queue_hold_no_place(llama_loaded):
    scheduler = _scheduler(llama_loaded, max_active=1, max_queue=2)  # not started: everything stays queued
    gone = [GenerationRequest([1], SamplingParams(4), emit=lambda e: None) for _ in range(2)]
    for req in gone:
        scheduler.submit(req)
    with pytest.raises(QueueFull):
        scheduler.submit(GenerationRequest([1], SamplingParams(4), emit=lambda e: None))
    for req in gone:
        req.cancelled.set()  # their clients left (or their answer failed) before they were admitted
    scheduler.submit(GenerationRequest([1], SamplingParams(4), emit=lambda e: None))  # room again
