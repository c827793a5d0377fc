import copy

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from sharedllm import SharedLLMConfig, SharedLLMForCausalLM, apply_trainable_preset
from sharedllm.tiny import randomize_injection, tiny_base_model, tiny_sharedllm

FAMILIES = ["llama", "mistral", "qwen2"]


@pytest.mark.parametrize("family", FAMILIES)
def test_untrained_model_gives_base_logits(family, tokens):
    base = tiny_base_model(family, num_hidden_layers=3, tie_word_embeddings=family == "qwen2")
    model = SharedLLMForCausalLM.from_base(
        copy.deepcopy(base), num_injection_layers=2, chunk_size=32, kv_per_node=2
    ).eval()
    ids, chunks = tokens(2, 12), tokens(2, 3, 32)
    with torch.no_grad():
        expected = base(ids).logits
        plain = model(ids).logits
        injected = model(ids, context_input_ids=chunks).logits
    assert torch.equal(plain, expected)
    assert torch.allclose(injected, expected, atol=1e-6)
    # The bottom M layers are shared knowledge: lower == base bottom layers, cross q_proj == self q_proj.
    assert torch.equal(model.lower.layers[1].mlp.up_proj.weight, base.model.layers[1].mlp.up_proj.weight)
    layer = model.upper_decoder.layers[0]
    assert torch.equal(layer.cross_attn.q_proj.weight, layer.self_attn.q_proj.weight)
    assert not layer.cross_attn.o_proj.weight.any()


def test_save_and_auto_load_round_trip(model, tokens, tmp_path):
    ids, chunks = tokens(1, 10), tokens(1, 2, 64)
    model.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).model_type == "sharedllm"
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, SharedLLMForCausalLM)
    assert loaded.config.chunk_size == 64 and loaded.config.base_config.model_type == "llama"
    with torch.no_grad():
        assert torch.equal(
            loaded(ids, context_input_ids=chunks).logits, model(ids, context_input_ids=chunks).logits
        )


def test_context_changes_output_and_chunk_order_matters(model, tokens):
    ids, chunks = tokens(1, 10), tokens(1, 3, 64)
    with torch.no_grad():
        without = model(ids).logits
        with_context = model(ids, context_input_ids=chunks).logits
        permuted = model(ids, context_input_ids=chunks[:, [2, 0, 1]]).logits
    assert (with_context - without).abs().max() > 1e-2
    assert (with_context - permuted).abs().max() > 1e-4


def test_batched_rows_with_different_chunk_counts_match_unbatched_runs(model, tokens):
    ids, chunks = tokens(3, 9), tokens(3, 3, 64)
    mask = torch.tensor([[True, True, True], [False, True, True], [False, False, False]])
    with torch.no_grad():
        batched = model(ids, context_input_ids=chunks, context_mask=mask).logits
        for row in range(3):
            own = chunks[row][mask[row]][None]
            single = model(ids[row : row + 1], context_input_ids=own if own.shape[1] else None).logits
            assert torch.allclose(batched[row], single[0], atol=1e-5), row


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_forward_tracks_float32(model, tokens, dtype):
    ids, chunks = tokens(2, 8), tokens(2, 2, 64)
    with torch.no_grad():
        reference = model(ids, context_input_ids=chunks).logits
        logits = copy.deepcopy(model).to(dtype)(ids, context_input_ids=chunks).logits
    assert logits.dtype == dtype
    assert torch.isfinite(logits).all()
    assert (logits.float() - reference).abs().max() < 0.15


def test_gradient_checkpointing_gives_same_gradients(tokens):
    ids, chunks = tokens(2, 12), tokens(2, 2, 64)

    def grads(checkpointing: bool):
        model = randomize_injection(tiny_sharedllm("mistral"))
        apply_trainable_preset(model, "all")
        if checkpointing:
            model.activation_checkpointing_enable()
            assert all(layer.gradient_checkpointing for layer in model.upper_decoder.layers)
        model.train()
        model.config.split_noise_sigma = 0.0  # same tree in both runs
        model.tree.noise_sigma = 0.0
        loss = model(ids, context_input_ids=chunks, labels=ids).loss
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, checkpointed = grads(False), grads(True)
    assert plain.keys() == checkpointed.keys()
    assert any("cross_attn.q_proj" in name for name in plain)
    for name in plain:
        assert torch.allclose(plain[name], checkpointed[name], atol=1e-6), name


def test_trainable_presets(model):
    total_cross = sum(
        p.numel() for layer in model.upper_decoder.layers[:2] for p in layer.cross_attn.parameters()
    )
    top = sum(p.numel() for layer in model.upper_decoder.layers[2:] for p in layer.parameters())
    try:
        assert apply_trainable_preset(model, "cross_attention") == total_cross
        assert apply_trainable_preset(model, "paper") == total_cross + top
        assert apply_trainable_preset(model, "all") == sum(p.numel() for p in model.upper.parameters())
        assert not any(p.requires_grad for p in model.lower.parameters())
        with pytest.raises(ValueError, match="preset"):
            apply_trainable_preset(model, "lora")
    finally:
        model.requires_grad_(False)


def test_split_noise_only_in_training(model, tokens):
    ids, chunks = tokens(1, 6), tokens(1, 4, 64)
    with torch.no_grad():
        eval_runs = [model(ids, context_input_ids=chunks).logits for _ in range(2)]
        model.train()
        try:
            train_runs = [model(ids, context_input_ids=chunks).logits for _ in range(2)]
        finally:
            model.eval()
    assert torch.equal(*eval_runs)
    assert not torch.equal(*train_runs)


def test_bad_context_input_is_rejected_with_a_reason(model, tokens):
    with pytest.raises(ValueError, match="chunk_size"):
        model(tokens(1, 4), context_input_ids=tokens(1, 2, 63))
    with pytest.raises(ValueError, match="context_mask"):
        model(
            tokens(1, 4), context_input_ids=tokens(1, 2, 64), context_mask=torch.ones(1, 3, dtype=torch.bool)
        )
    with pytest.raises(ValueError, match="batch, chunks, chunk_size"):
        model(tokens(1, 4), context_input_ids=tokens(2, 64))


def test_config_validation_names_the_field():
    base = tiny_base_model("llama").config
    with pytest.raises(ValueError, match="num_injection_layers"):
        SharedLLMConfig(base_config=base, num_injection_layers=9)
    with pytest.raises(ValueError, match="kv_per_node"):
        SharedLLMConfig(base_config=base, chunk_size=64, kv_per_node=32)
    with pytest.raises(ValueError, match="selection_policy"):
        SharedLLMConfig(base_config=base, selection_policy="left")


def test_from_base_loads_a_checkpoint_path(tmp_path, tokens):
    base = tiny_base_model("qwen2", num_hidden_layers=2)
    base.save_pretrained(tmp_path / "base")
    model = SharedLLMForCausalLM.from_base(
        str(tmp_path / "base"), num_injection_layers=1, chunk_size=32, kv_per_node=2, dtype=torch.bfloat16
    )
    assert model.dtype == torch.bfloat16 and model.config.base_config.model_type == "qwen2"
    reference = AutoModelForCausalLM.from_pretrained(tmp_path / "base", dtype=torch.bfloat16)
    ids = tokens(1, 6)
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)


def test_query_policy_selects_per_query_and_right_policy_does_not(tokens):
    chunks, first, second = tokens(1, 4, 64), tokens(1, 9), tokens(1, 9)
    for policy, should_differ in (("query", True), ("right", False)):
        model = tiny_sharedllm("llama", selection_policy=policy, tree_height=2, kv_per_node=8)
        with torch.no_grad():
            a = model.build_injected_context(chunks, input_ids=first)
            b = model.build_injected_context(chunks, input_ids=second)
        assert (not torch.equal(a.keys[0], b.keys[0])) == should_differ, policy


def test_eager_and_sdpa_attention_agree_with_padded_contexts(model, tokens):
    ids, chunks = tokens(2, 8), tokens(2, 3, 64)
    mask = torch.tensor([[True, True, True], [False, True, True]])
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    assert eager.upper_decoder.layers[0].cross_attn.config._attn_implementation == "eager"
    assert eager.lower.config._attn_implementation == "eager"
    with torch.no_grad():
        expected = model(ids, context_input_ids=chunks, context_mask=mask).logits
        logits = eager(ids, context_input_ids=chunks, context_mask=mask).logits
    assert torch.allclose(logits, expected, atol=1e-5)
