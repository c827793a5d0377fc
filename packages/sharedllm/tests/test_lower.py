"""The lower model: the upper model's own bottom layers (shared weights), its probe, from_base in place."""

import copy

import torch

from sharedllm import SharedLLMForCausalLM, apply_trainable_preset
from sharedllm.tiny import randomize_injection, tiny_base_model


def wrap(base, **settings):
    settings = {"num_injection_layers": 2, "chunk_size": 32, "kv_per_node": 2, **settings}
    return SharedLLMForCausalLM.from_base(base, **settings).eval()


def test_probe_with_one_injection_layer_is_the_first_layers_hidden_state(tokens):
    base = tiny_base_model("qwen2", num_hidden_layers=3)
    model = wrap(copy.deepcopy(base), num_injection_layers=1, selection_policy="query")
    chunks = tokens(2, 32)
    with torch.no_grad():
        expected = base.model(chunks, output_hidden_states=True).hidden_states[1]  # layer 0 out, not normed
        probe = model.encode_chunks(chunks).probe
    torch.testing.assert_close(probe, expected, atol=1e-6, rtol=1e-6)


def cross_attention_parameters(model):
    return sum(
        p.numel() for idx in model.config.injection_layer_ids
        for p in model.upper_decoder.layers[idx].cross_attn.parameters()
    )  # fmt: skip


def test_lower_model_shares_the_upper_models_bottom_layers():
    base = tiny_base_model("llama")
    base_parameters = sum(p.numel() for p in base.parameters())
    model = wrap(base)
    assert model.upper is base  # built in place around the given model: no second copy
    assert all(a is b for a, b in zip(model.lower.layers, model.upper_decoder.layers[:2], strict=True))
    total = sum(p.numel() for p in model.parameters())
    assert total == base_parameters + cross_attention_parameters(model)
    assert not any(key.startswith("lower") for key in model.state_dict())


def test_preset_all_gives_the_lower_model_a_frozen_copy_that_does_not_train(tokens, tmp_path):
    model = randomize_injection(wrap(tiny_base_model("llama")))
    base_parameters = sum(p.numel() for p in model.upper.parameters()) - cross_attention_parameters(model)
    apply_trainable_preset(model, "paper")
    assert model.config.share_lower_weights  # paper: the bottom layers stay frozen, so still shared
    apply_trainable_preset(model, "all")
    lower_parameters = sum(p.numel() for p in model.lower.parameters())
    assert not model.config.share_lower_weights
    assert model.lower.layers[0] is not model.upper_decoder.layers[0]
    assert sum(p.numel() for p in model.parameters()) == (
        base_parameters + cross_attention_parameters(model) + lower_parameters
    )
    ids, chunks = tokens(1, 9), tokens(1, 2, 32)
    frozen = copy.deepcopy(model.lower.state_dict())
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model.train()
    model(ids, context_input_ids=chunks, labels=ids).loss.backward()
    optimizer.step()
    assert all(torch.equal(v, model.lower.state_dict()[k]) for k, v in frozen.items())
    layer = model.upper_decoder.layers[0].self_attn.q_proj.weight
    assert not torch.equal(layer, model.lower.layers[0].self_attn.q_proj.weight)  # the upper one trained
    model.eval().save_pretrained(tmp_path)
    loaded = SharedLLMForCausalLM.from_pretrained(tmp_path).eval()
    assert not loaded.config.share_lower_weights
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(ids, context_input_ids=chunks).logits, model(ids, context_input_ids=chunks).logits
        )
