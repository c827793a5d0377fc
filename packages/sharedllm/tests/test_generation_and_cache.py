import pytest
import torch

from sharedllm import ContextCache
from sharedllm.tiny import randomize_injection, tiny_sharedllm


def count_lower_calls(model):
    calls = []
    handle = model.lower.register_forward_hook(lambda module, args, out: calls.append(1))
    return calls, handle


def greedy_by_recomputation(model, ids, steps, **context):
    for _ in range(steps):
        with torch.no_grad():
            logits = model(ids, **context).logits
        ids = torch.cat([ids, logits[:, -1:].argmax(-1)], dim=-1)
    return ids


def test_generate_encodes_tree_once_and_matches_recomputation(model, tokens):
    ids, chunks = tokens(2, 7), tokens(2, 3, 64)
    mask = torch.tensor([[True, True, True], [False, True, True]])
    calls, handle = count_lower_calls(model)
    try:
        generated = model.generate(
            ids, context_input_ids=chunks, context_mask=mask, max_new_tokens=6, do_sample=False
        )
    finally:
        handle.remove()
    assert len(calls) == 1  # the tree is encoded at prefill only
    expected = greedy_by_recomputation(model, ids, 6, context_input_ids=chunks, context_mask=mask)
    assert torch.equal(generated, expected)
    assert not torch.equal(generated, model.generate(ids, max_new_tokens=6, do_sample=False))


def test_context_cache_extends_without_re_encoding(model, tokens):
    chunks = tokens(5, 64)
    cache = model.new_context_cache()
    assert isinstance(cache, ContextCache) and cache.num_chunks == 0 and cache.nbytes() == 0
    model.extend_context(cache, chunks[:3])
    size_after_three = cache.nbytes()
    calls, handle = count_lower_calls(model)
    try:
        model.extend_context(cache, chunks[3:])
    finally:
        handle.remove()
    assert len(calls) == 1 and cache.num_chunks == 5
    assert cache.encode_calls == 2 and cache.chunks_encoded == 5
    assert cache.nbytes() == pytest.approx(size_after_three * 5 / 3)
    joined = cache.layers()[0][0]
    assert joined.shape[2] == 5 * model.config.kv_per_chunk
    assert cache.layers()[0][0] is joined  # joined once, then read without copies

    ids = tokens(1, 8)
    with torch.no_grad():
        from_cache = model(ids, context_cache=cache).logits
        from_ids = model(ids, context_input_ids=chunks[None]).logits
    assert torch.allclose(from_cache, from_ids, atol=1e-6)

    calls, handle = count_lower_calls(model)
    try:
        generated = model.generate(ids, context_cache=cache, max_new_tokens=5, do_sample=False)
    finally:
        handle.remove()
    assert not calls and cache.chunks_encoded == 5  # generation reads the cache, encodes nothing
    assert torch.equal(generated, greedy_by_recomputation(model, ids, 5, context_input_ids=chunks[None]))


def test_context_cache_is_shared_by_a_batch(model, tokens):
    chunks, ids = tokens(2, 64), tokens(3, 5)
    cache = model.extend_context(model.new_context_cache(), chunks)
    with torch.no_grad():
        batched = model(ids, context_cache=cache).logits
        expected = model(ids, context_input_ids=chunks[None].expand(3, -1, -1)).logits
    assert torch.allclose(batched, expected, atol=1e-6)


def test_context_cache_rejects_bad_chunks(model, tokens):
    cache = model.new_context_cache()
    with pytest.raises(ValueError, match=r"\[N, 64\]"):
        model.extend_context(cache, tokens(2, 10))
    with pytest.raises(ValueError, match="token ids"):
        model.extend_context(cache, torch.full((1, 64), 10_000))
    with pytest.raises(ValueError, match="either"):
        model(tokens(1, 3), context_cache=cache, context_input_ids=tokens(1, 1, 64))


def test_query_policy_cache_matches_batched_forward(tokens):
    model = randomize_injection(
        tiny_sharedllm("qwen2", selection_policy="query", tree_height=2, kv_per_node=8)
    )
    chunks, ids = tokens(3, 64), tokens(1, 9)
    cache = model.extend_context(model.extend_context(model.new_context_cache(), chunks[:1]), chunks[1:])
    with torch.no_grad():
        from_cache = model(ids, context_cache=cache).logits
        from_ids = model(ids, context_input_ids=chunks[None]).logits
        other_query = model(tokens(1, 9), context_input_ids=chunks[None]).logits
    assert torch.allclose(from_cache, from_ids, atol=1e-6)
    assert torch.isfinite(other_query).all()
    generated = model.generate(ids, context_cache=cache, max_new_tokens=4, do_sample=False)
    assert generated.shape == (1, 13)


def test_context_cache_encodes_deterministically_in_train_mode(tokens):
    """A cache never sees split noise: extended while the model is in train mode, it equals eval mode."""
    model = randomize_injection(tiny_sharedllm("llama"))
    chunks, ids = tokens(3, 64), tokens(1, 8)
    model.set_selection(split_noise_sigma=0.4)
    expected = model.extend_context(model.new_context_cache(), chunks)
    model.train()
    torch.manual_seed(1)
    in_train = model.extend_context(model.new_context_cache(), chunks)
    model.eval()
    with torch.no_grad():
        noisy = model(ids, context_input_ids=chunks[None]).logits  # eval: no noise either
    assert all(torch.equal(a, b) for a, b in zip(expected.layers()[0], in_train.layers()[0], strict=True))
    with torch.no_grad():
        assert torch.equal(model(ids, context_cache=in_train).logits, noisy)
    with pytest.raises(ValueError, match="selection_policy"):
        model.set_selection("left")
    assert model.config.selection_policy == "right" and model.tree.policy == "right"  # unchanged


def test_forward_continues_a_cache_and_returns_a_loss(model, tokens):
    ids, chunks = tokens(1, 10), tokens(1, 2, 64)
    with torch.no_grad():
        full = model(ids, context_input_ids=chunks, labels=ids)
        prefix = model(ids[:, :6], context_input_ids=chunks, use_cache=True)
        rest = model(ids[:, 6:], cache=prefix.cache, injected_context=prefix.injected_context, use_cache=True)
    assert full.loss is not None and torch.isfinite(full.loss)
    assert torch.allclose(rest.logits, full.logits[:, 6:], atol=1e-5)
