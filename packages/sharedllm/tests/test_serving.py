"""The serving API: prefill with a chat's cache, decode several requests in one batch == each alone."""

import torch

from sharedllm.layout import layout_prompt
from sharedllm.model import InjectedContext
from sharedllm.serving import DecodeState, decode_one, prefill
from sharedllm.tiny import randomize_injection, tiny_base_model, tiny_sharedllm


def test_batched_decode_equals_each_request_alone(tokens):
    model = randomize_injection(tiny_sharedllm("llama"))
    prompts = [tokens(200).tolist(), tokens(90).tolist(), tokens(20).tolist()]  # 2, 0 and 0 chunks
    steps = []
    for ids in prompts:
        layout = layout_prompt(ids, model.config.chunk_size, 128, reserve=4)
        cache = model.extend_context(model.new_context_cache(), layout.context)
        steps.append(prefill(model, layout.running, cache if layout.num_chunks else None))
    assert [s.context is not None for s in steps] == [True, False, False]
    prefilled = [s.cache.get_seq_length() for s in steps]
    with torch.no_grad():
        batch = DecodeState.stack([s.cache for s in steps], [s.context for s in steps])
        next_tokens = [int(s.logits.argmax()) for s in steps]
        batched = batch.decode(model, next_tokens)
        alone = [decode_one(model, t, s).logits for t, s in zip(next_tokens, steps, strict=True)]
    for row in range(3):
        torch.testing.assert_close(batched[row], alone[row], atol=1e-5, rtol=1e-5)
    for row in range(3):  # the rows come back out without their padding
        assert batch.row_cache(row).get_seq_length() == prefilled[row] + 1


def test_prefill_with_a_cache_equals_the_forward_pass_and_serves_plain_models(tokens):
    model = randomize_injection(tiny_sharedllm("qwen2"))
    chunks, running = tokens(3, 64), tokens(12)
    cache = model.extend_context(model.new_context_cache(), chunks)
    step = prefill(model, running, cache)
    with torch.no_grad():
        expected = model(running[None], context_input_ids=chunks[None]).logits[0, -1]
    torch.testing.assert_close(step.logits, expected, atol=1e-5, rtol=1e-5)
    plain = tiny_base_model("llama")
    with torch.no_grad():
        torch.testing.assert_close(prefill(plain, running).logits, plain(running[None]).logits[0, -1])


def test_stacked_contexts_mask_the_padding(tokens):
    model = tiny_sharedllm("llama")
    one = model.extend_context(model.new_context_cache(), tokens(1, 64))
    two = model.extend_context(model.new_context_cache(), tokens(2, 64))
    a, b = (model.build_injected_context(context_cache=c) for c in (one, two))
    stacked = InjectedContext.stack([a, None, b])
    per_chunk = model.config.kv_per_chunk
    assert stacked.num_keys == 2 * per_chunk and stacked.batch_size == 3
    assert stacked.mask.sum(-1).tolist() == [per_chunk, 1, 2 * per_chunk]  # a row without context: 1 zero key
    assert not stacked.keys[0][1].any() and InjectedContext.stack([None, None]) is None
