"""Which parameters train: the paper's preset, cross-attention only, or all. The lower model stays frozen."""

from __future__ import annotations

from sharedllm.model.modeling import SharedLLMForCausalLM

PRESETS = ("paper", "cross_attention", "all")


def apply_trainable_preset(model: SharedLLMForCausalLM, preset: str = "paper") -> int:
    """Set requires_grad per preset and return the number of trainable parameters.

    paper: the cross-attention blocks and the upper model's top N - M layers (as in the paper's LM training).
    cross_attention: the cross-attention blocks only.
    all: the whole upper model, cross-attention included. The lower model (the compressor) is frozen in every
    preset and runs without a graph. It shares the upper model's bottom M layers while those stay frozen
    (paper, cross_attention); "all" trains them, so the lower model first gets its own frozen copy.
    """
    if preset not in PRESETS:
        raise ValueError(f"trainable preset must be one of {PRESETS}, got {preset!r}")
    if preset == "all":
        model.separate_lower_weights()
    model.requires_grad_(False)
    layers = model.upper_decoder.layers
    if preset == "all":
        model.upper.requires_grad_(True)
    else:
        for idx in model.config.injection_layer_ids:
            layers[idx].cross_attn.requires_grad_(True)
        if preset == "paper":
            for layer in layers[model.config.num_injection_layers :]:
                layer.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
