"""The request queue and the worker that serves it.

One worker thread owns the model and the context caches. Each round it admits queued requests up to
`max_active` (prefill: encode the conversation's new chunks, run the running text), samples the next
token of every active request, and runs all those tokens through the model in one batched forward pass
(continuous batching: requests join and leave the batch at any round; see `batching.py`). A request
alone, or a model whose caches cannot be stacked, decodes on its own. Each request samples with its own
random generator, so a seeded answer does not depend on the company it runs in. A cancelled request
(client gone) is dropped at its next round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from sharedllm.model import InjectedContext
from sharedllm.serving import Step, decode_one, prefill
from sharedllm_chat.engine.batching import DecodeBatch, batchable
from sharedllm_chat.engine.context_store import CacheEntry, ContextStore
from sharedllm_chat.engine.detokenize import IncrementalText
from sharedllm_chat.engine.events import Done, Event, Failed, Token
from sharedllm_chat.engine.loader import LoadedModel
from sharedllm_chat.engine.prompt import split_prompt
from sharedllm_chat.engine.sampling import SamplingParams, make_generator, next_token

log = logging.getLogger(__name__)


class QueueFull(Exception):
    pass


@dataclass(eq=False)
class GenerationRequest:
    prompt_ids: list[int]
    params: SamplingParams
    emit: Callable[[Event], None]  # must be thread-safe: called from the worker thread
    conversation_id: str | None = None
    use_context_cache: bool = True  # False: encode every chunk afresh (the benchmark's no-cache baseline)
    cancelled: threading.Event = field(default_factory=threading.Event)
    submitted_at: float = field(default_factory=time.perf_counter)

    def send(self, event: Event) -> None:
        """Hand `event` to the requester; one whose listener is broken is cancelled, never left running
        (and its error never reaches the worker, where it would fail every other request in the round)."""
        try:
            self.emit(event)
        except Exception:
            log.exception("could not deliver a generation event: cancelling the request")
            self.cancelled.set()


@dataclass(eq=False)
class _Sequence:
    req: GenerationRequest
    text: IncrementalText
    generator: torch.Generator
    entry: CacheEntry | None
    context_chunks: int
    chunks_encoded: int
    started_at: float
    cache: DynamicCache | None = None  # self-attention; None while the decode batch holds it
    context: InjectedContext | None = None  # as compressed at prefill, reused by every decode step
    logits: torch.Tensor | None = None
    generated: int = 0
    ttft_s: float | None = None
    cpu_started: float = 0.0
    ttft_cpu_s: float | None = None


class Scheduler:
    def __init__(
        self,
        loaded: LoadedModel,
        context_store: ContextStore,
        max_active: int,
        max_queue: int,
        on_done: Callable[[Done], None] | None = None,
        batch_decode: bool = True,
    ) -> None:
        self.loaded = loaded
        self.store = context_store
        self.max_active = max_active
        self.max_queue = max_queue
        self.on_done = on_done
        self.batch_decode = batch_decode
        self.peak_active = 0  # most requests decoding at once so far
        self.batched_steps = 0  # forward passes that advanced several requests at once
        self._batch: DecodeBatch | None = None
        self._pending: deque[GenerationRequest] = deque()
        self._active: list[_Sequence] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sharedllm-chat-worker", daemon=True)

    # -- the request side (any thread) --
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    def submit(self, req: GenerationRequest) -> None:
        with self._cond:
            # Cancelled requests still queued are dropped at admission: they hold no place meanwhile.
            waiting = sum(not r.cancelled.is_set() for r in self._pending)
            if waiting + len(self._active) >= self.max_queue:
                raise QueueFull(f"the server is at its queue limit ({self.max_queue} requests); retry later")
            self._pending.append(req)
            self._cond.notify_all()

    @property
    def depth(self) -> tuple[int, int]:
        """(waiting, running)"""
        return len(self._pending), len(self._active)

    # -- the worker thread --
    def _run(self) -> None:
        torch.set_grad_enabled(False)
        while True:
            with self._cond:
                while not self._stopping and not self._pending and not self._active:
                    self._cond.wait()
                if self._stopping:
                    break
                admitted = []
                while self._pending and len(self._active) + len(admitted) < self.max_active:
                    admitted.append(self._pending.popleft())
            with torch.inference_mode():
                for req in admitted:
                    self._guarded(req, self._admit)
                self.peak_active = max(self.peak_active, len(self._active))
                try:
                    self._round()
                except Exception as exc:  # a bug here must not leave requests hanging or kill the worker
                    log.exception("decode round failed")
                    self._batch = None
                    for seq in list(self._active):
                        self._release(seq)
                        seq.req.send(Failed(f"generation failed: {type(exc).__name__}: {exc}"))
        # Shutting down: nobody is left waiting for an answer that will not come.
        for seq in list(self._active):
            self._finish(seq, "cancelled")
        with self._cond:
            leftover, self._pending = list(self._pending), deque()
        for req in leftover:
            req.send(
                Done("cancelled", len(req.prompt_ids), 0, 0, 0, time.perf_counter() - req.submitted_at, None)
            )

    def _guarded(self, req: GenerationRequest, fn, seq: _Sequence | None = None) -> None:
        try:
            fn(req)
        except Exception as exc:  # one failing request must not take the worker down
            log.exception("generation failed")
            seq = seq or next((s for s in self._active if s.req is req), None)
            if seq is not None:
                self._release(seq)
            req.send(Failed(f"generation failed: {type(exc).__name__}: {exc}"))

    def _admit(self, req: GenerationRequest) -> None:
        if req.cancelled.is_set():
            req.send(
                Done("cancelled", len(req.prompt_ids), 0, 0, 0, time.perf_counter() - req.submitted_at, None)
            )
            return
        started, cpu_started = time.perf_counter(), time.thread_time()
        lm = self.loaded
        entry, cache, encoded, n_chunks = None, None, 0, 0
        running = torch.tensor(req.prompt_ids, dtype=torch.long)
        if lm.supports_context:
            layout = split_prompt(
                req.prompt_ids,
                lm.chunk_size,
                lm.upper_window,
                req.params.max_new_tokens,
                min_chunks=self._cached_chunks(req),
            )
            running, n_chunks = layout.running, layout.num_chunks
            if n_chunks:
                before = self.store.stats.chunks_encoded
                key = req.conversation_id if req.use_context_cache else None
                entry, _ = self.store.acquire(key, layout.context.to(lm.device))
                cache = entry.cache
                encoded = self.store.stats.chunks_encoded - before
        seq = _Sequence(
            req,
            IncrementalText(lm.tokenizer, req.params.stop),
            make_generator(req.params.seed),
            entry,
            n_chunks,
            encoded,
            started,
        )
        seq.cpu_started = cpu_started
        self._active.append(seq)
        step = prefill(lm.model, running, cache)
        seq.logits, seq.cache, seq.context = step.logits, step.cache, step.context
        # Like `generate`, decode with the context read at prefill: the conversation's cache may grow
        # (another turn) while this request is still decoding.
        if seq.entry is not None:
            self.store.release(seq.entry)
            seq.entry = None

    def _cached_chunks(self, req: GenerationRequest) -> int:
        entry = self.store.get(req.conversation_id) if req.conversation_id and req.use_context_cache else None
        return len(entry.digests) if entry is not None else 0

    def _round(self) -> None:
        """One token for every active request: sample each, then one forward pass for them all."""
        tokens: dict[int, int] = {}
        for seq in list(self._active):
            token = self._guarded_call(seq, lambda s=seq: self._sample(s))
            if token is not None:
                tokens[id(seq)] = token
        going = [seq for seq in self._active if id(seq) in tokens]
        if self.batch_decode and len(going) >= 2 and all(self._can_batch(seq) for seq in going):
            try:
                self._decode_batch(going, [tokens[id(seq)] for seq in going])
            except Exception as exc:
                log.exception("batched decode failed")
                self._batch = None
                for seq in going:
                    self._release(seq)
                    seq.req.send(Failed(f"generation failed: {type(exc).__name__}: {exc}"))
            return
        self._unbatch()
        for seq in going:
            self._guarded_call(seq, lambda s=seq: self._decode_alone(s, tokens[id(s)]))

    def _guarded_call(self, seq: _Sequence, fn):
        try:
            return fn()
        except Exception as exc:  # one failing request must not take the worker down
            log.exception("generation failed")
            self._release(seq)
            seq.req.send(Failed(f"generation failed: {type(exc).__name__}: {exc}"))
            return None

    def _sample(self, seq: _Sequence) -> int | None:
        """Sample the next token and hand out its text; None once the request is finished."""
        if seq.req.cancelled.is_set():
            return self._finish(seq, "cancelled")
        logits = seq.logits
        if seq.generated < seq.req.params.min_tokens:
            logits = logits.clone()
            logits[list(self.loaded.eos_ids)] = float("-inf")
        token = next_token(logits, seq.req.params, seq.generator)
        seq.generated += 1
        if seq.ttft_s is None:
            seq.ttft_s = time.perf_counter() - seq.req.submitted_at
            seq.ttft_cpu_s = time.thread_time() - seq.cpu_started
        if token in self.loaded.eos_ids:
            return self._finish(seq, "stop")
        delta = seq.text.add(token)
        if delta:
            seq.req.send(Token(delta))
        if seq.text.stopped:
            return self._finish(seq, "stop")
        if seq.generated >= seq.req.params.max_new_tokens:
            return self._finish(seq, "length")
        return token

    def _decode_alone(self, seq: _Sequence, token: int) -> None:
        step = decode_one(self.loaded.model, token, Step(seq.logits, seq.cache, seq.context))
        seq.logits, seq.cache = step.logits, step.cache

    def _can_batch(self, seq: _Sequence) -> bool:
        in_batch = self._batch is not None and seq in self._batch.members
        return in_batch or batchable(seq.cache)

    def _decode_batch(self, going: list[_Sequence], tokens: list[int]) -> None:
        if self._batch is None or self._batch.members != going:
            self._unbatch()
            self._batch = DecodeBatch.stack(going, [s.cache for s in going], [s.context for s in going])
            for seq in going:
                seq.cache = None  # the batch holds it now
        logits = self._batch.forward(self.loaded.model, tokens)
        for row, seq in enumerate(going):
            seq.logits = logits[row]
        self.batched_steps += 1

    def _unbatch(self) -> None:
        """Give the batch's rows back to the requests still running (before a rebuild or a solo step)."""
        if self._batch is None:
            return
        for row, seq in enumerate(self._batch.members):
            if seq in self._active:
                seq.cache = self._batch.row_cache(row)
        self._batch = None

    def _finish(self, seq: _Sequence, reason: str) -> None:
        """Report the end of a request (returns None, so `_sample` can `return self._finish(...)`)."""
        if reason != "cancelled":
            tail = seq.text.flush()
            if tail:
                seq.req.send(Token(tail))
        self._release(seq)
        done = Done(
            reason,
            len(seq.req.prompt_ids),
            seq.generated,
            seq.context_chunks,
            seq.chunks_encoded,
            seq.started_at - seq.req.submitted_at,
            seq.ttft_s,
            seq.ttft_cpu_s,
        )
        seq.req.send(done)
        if self.on_done is not None:
            self.on_done(done)

    def _release(self, seq: _Sequence) -> None:
        if seq in self._active:
            self._active.remove(seq)
        if seq.entry is not None:
            self.store.release(seq.entry)
            seq.entry = None
        seq.cache = seq.context = None
