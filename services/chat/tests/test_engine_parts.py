"""The engine's parts: stop sequences over streamed tokens, the prompt layout, sampling, the cache LRU."""

from __future__ import annotations

import queue

import torch

from sharedllm import SharedLLMForCausalLM
from sharedllm_chat.engine.context_store import ContextStore
from sharedllm_chat.engine.detokenize import IncrementalText
from sharedllm_chat.engine.events import Done, Token
from sharedllm_chat.engine.loader import build_embedded_base, wrap_model
from sharedllm_chat.engine.prompt import render_ids, split_prompt
from sharedllm_chat.engine.sampling import SamplingParams, make_generator, next_token
from sharedllm_chat.engine.scheduler import GenerationRequest, Scheduler
from sharedllm_chat.settings import Settings


def _stream(tokenizer, text: str, stop=()) -> tuple[list[str], IncrementalText]:
    inc = IncrementalText(tokenizer, tuple(stop))
    out = []
    for tid in tokenizer.encode(text, add_special_tokens=False):
        out.append(inc.add(tid))
        if inc.stopped:
            break
    out.append(inc.flush())
    return out, inc


def test_incremental_text_holds_partial_characters(tokenizer):
    pieces, _ = _stream(tokenizer, "naïve 😀 done")
    assert "".join(pieces) == "naïve 😀 done"
    assert all("\ufffd" not in p for p in pieces)


def test_stop_sequence_spanning_tokens_is_never_emitted(tokenizer):
    pieces, inc = _stream(tokenizer, "hello END world", stop=["END"])
    assert inc.stopped and "".join(pieces) == "hello "
    # A prefix of the stop that turns out not to be one is released.
    pieces, inc = _stream(tokenizer, "an ENtry", stop=["END"])
    assert not inc.stopped and "".join(pieces) == "an ENtry"


def test_split_prompt_keeps_chunk_boundaries_as_the_chat_grows():
    ids = list(range(1000))
    a = split_prompt(ids, chunk_size=100, upper_window=300, max_new_tokens=20)
    b = split_prompt(ids + list(range(250)), chunk_size=100, upper_window=300, max_new_tokens=20)
    assert a.num_chunks == 8 and a.running.numel() + 20 <= 300
    assert torch.equal(b.context[: a.num_chunks], a.context)  # earlier chunks unchanged
    assert torch.equal(torch.cat([b.context.flatten(), b.running]), torch.tensor(ids + list(range(250))))
    # Reusing more cached chunks than needed is fine, but one token always stays with the upper model.
    assert split_prompt(ids, 100, 300, 20, min_chunks=9).num_chunks == 9
    assert split_prompt(list(range(200)), 100, 50, 20, min_chunks=5).num_chunks == 1
    assert split_prompt(list(range(50)), 100, 300, 20).num_chunks == 0


def test_chat_template_rendering_is_prefix_stable(tokenizer):
    turn1 = [{"role": "user", "content": "hi"}]
    turn2 = [*turn1, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]
    a, b = render_ids(tokenizer, turn1), render_ids(tokenizer, turn2)
    assert b[: len(a)] == a


def test_sampling_top_p_and_seed():
    logits = torch.tensor([5.0, 4.0, 0.0, -1.0])
    tight = SamplingParams(max_new_tokens=1, temperature=1.0, top_p=0.5)
    assert {next_token(logits, tight, make_generator(s)) for s in range(50)} == {0}
    loose = SamplingParams(max_new_tokens=1, temperature=1.0, top_p=1.0)
    draws = [next_token(logits, loose, make_generator(7)) for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same draw
    assert next_token(logits, SamplingParams(max_new_tokens=1, temperature=0.0), make_generator(None)) == 0


def test_context_store_lru_by_bytes(sharedllm_loaded):
    lm = sharedllm_loaded
    chunks = torch.randint(0, 256, (4, lm.chunk_size))
    probe = lm.sharedllm.extend_context(lm.new_context_cache(), chunks[:1]).nbytes()
    store = ContextStore(lm.sharedllm, max_bytes=5 * probe)
    a, _ = store.acquire("a", chunks[:2])
    store.release(a)
    a2, _ = store.acquire("a", chunks[:3])  # grows: only the third chunk is encoded
    store.release(a2)
    assert a2 is a and a.cache.chunks_encoded == 3 and a.cache.encode_calls == 2
    b, _ = store.acquire("b", chunks[:3])
    store.release(b)
    assert store.get("a") is None and store.stats.evictions == 1 and store.nbytes() <= 5 * probe
    other = torch.randint(0, 256, (3, lm.chunk_size))
    b2, _ = store.acquire("b", other)  # a different history: a fresh cache
    assert b2 is not b and b2.cache.chunks_encoded == 3


def _generate(loaded, prompts: list[list[int]], batch: bool) -> list[str]:
    """Run prompts through a Scheduler at once; each request's text."""
    store = ContextStore(loaded.sharedllm, max_bytes=2**30)
    scheduler = Scheduler(loaded, store, max_active=len(prompts), max_queue=len(prompts), batch_decode=batch)
    scheduler.start()
    inboxes = []
    for i, ids in enumerate(prompts):
        inbox: queue.Queue = queue.Queue()
        scheduler.submit(
            GenerationRequest(ids, SamplingParams(12, seed=i), emit=inbox.put, conversation_id=str(i))
        )
        inboxes.append(inbox)
    texts = []
    for inbox in inboxes:
        pieces = []
        while isinstance(event := inbox.get(timeout=120), Token):
            pieces.append(event.text)
        assert isinstance(event, Done), event
        texts.append("".join(pieces))
    scheduler.stop()
    assert scheduler.batched_steps > 0 if batch else scheduler.batched_steps == 0
    return texts


def test_query_aware_policy_serves_batched(tokenizer):
    """The paper's question-answering policy picks tree nodes per query: served, batched, as alone."""
    settings = Settings(chunk_size=256, embedded_layers=2)
    model = SharedLLMForCausalLM.from_base(
        build_embedded_base(settings, tokenizer),
        num_injection_layers=2,
        chunk_size=256,
        kv_per_node=8,
        upper_window=512,
        selection_policy="query",
    )
    loaded = wrap_model(model, tokenizer, settings)
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 256, (n,), generator=gen).tolist() for n in (100, 1500, 2300)]
    assert _generate(loaded, prompts, batch=True) == _generate(loaded, prompts, batch=False)
