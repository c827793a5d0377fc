"""Tiny random Llama-family models built from configs: for tests, demos and the chat service's default."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, PreTrainedModel, Qwen2Config

FAMILIES = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}


def tiny_base_config(
    family: str = "llama",
    vocab_size: int = 256,
    hidden_size: int = 64,
    num_hidden_layers: int = 4,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 65536,
    **overrides,
):
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    settings = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    if family == "mistral":
        settings["sliding_window"] = None
    settings.update(overrides)
    return FAMILIES[family](**settings)


def tiny_base_model(
    family: str = "llama", seed: int = 0, dtype: torch.dtype = torch.float32, **config_overrides
) -> PreTrainedModel:
    """A randomly initialised (seeded) causal LM of the given family, e.g. `tiny_base_model("qwen2")`."""
    config = tiny_base_config(family, **config_overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def tiny_sharedllm(
    family: str = "llama",
    seed: int = 0,
    num_injection_layers: int = 2,
    chunk_size: int = 64,
    tree_height: int = 3,
    kv_per_node: int = 4,
    selection_policy: str = "right",
    upper_window: int = 256,
    **config_overrides,
):
    """A SharedLLM wrapped around `tiny_base_model(family, ...)` (64-token chunks keep 16 KVs)."""
    from sharedllm.model import SharedLLMForCausalLM

    base = tiny_base_model(family, seed=seed, **config_overrides)
    return SharedLLMForCausalLM.from_base(
        base,
        num_injection_layers=num_injection_layers,
        chunk_size=chunk_size,
        tree_height=tree_height,
        kv_per_node=kv_per_node,
        selection_policy=selection_policy,
        upper_window=upper_window,
    ).eval()


def randomize_injection(model, std: float = 0.3, seed: int = 7):
    """Give the zero-initialised cross-attention output projections random weights, as if trained, so that a
    tiny untrained model's output visibly depends on its context (tests and demos)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for idx in model.config.injection_layer_ids:
            weight = model.upper_decoder.layers[idx].cross_attn.o_proj.weight
            weight.copy_((torch.randn(weight.shape, generator=generator) * std).to(weight))
    return model
