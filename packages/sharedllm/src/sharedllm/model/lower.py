"""The lower model (the compressor): the base model's bottom M decoder layers run over context chunks.

By default it runs the upper model's own bottom layers (one set of weights: they are frozen in the presets
that leave them untrained); a separate frozen copy exists only when a preset trains those upper layers.
The lower model is the base family's own `*Model` class (its mask and rotary code), assembled on the meta
device around borrowed modules, so it holds no tensors of its own. The raw keys (k_proj output, before
RoPE), the values and the first layer's hidden state are read with forward hooks while it runs.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig


@dataclass
class EncodedChunks:
    """The lower model's per-layer raw keys (after k_proj, before RoPE) and values of some chunks,
    [C, kv_heads, L, head_dim] each, and for the query-aware policy the chunks' hidden states after the
    first lower layer ([C, L, hidden], before any final norm)."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    probe: torch.Tensor | None


def build_lower_model(config: PretrainedConfig, layers: nn.ModuleList, rotary_emb: nn.Module) -> nn.Module:
    """The base family's `*Model` over `layers` (borrowed), the upper model's rotary module and no final
    norm or embeddings (the lower model reads token embeddings given to it and only its states matter)."""
    cut = copy.deepcopy(config)
    cut.num_hidden_layers = len(layers)
    if getattr(cut, "layer_types", None) is not None:
        cut.layer_types = list(cut.layer_types[: len(layers)])
    with torch.device("meta"):
        lower = AutoModel.from_config(cut)
    lower.embed_tokens = None
    lower.layers = layers
    lower.norm = nn.Identity()
    lower.rotary_emb = rotary_emb
    lower.config = config  # the upper model's config object: attention implementation changes reach both
    return lower


def lower_layer_copy(layer: nn.Module) -> nn.Module:
    """A frozen copy of an upper decoder layer's base modules (without any cross-attention)."""
    twin = copy.deepcopy(layer)
    if getattr(twin, "cross_attn", None) is not None:
        twin.cross_attn = None
    return twin.requires_grad_(False)


@contextmanager
def _eval_mode(module: nn.Module):
    """Encode without dropout even while the model trains (the lower model is a frozen compressor)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _heads(states: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[C, L, heads * head_dim] projection output -> [C, heads, L, head_dim], as attention lays it out."""
    return states.view(*states.shape[:2], -1, head_dim).transpose(1, 2)


@torch.no_grad()
def run_lower(lower: nn.Module, embeds: torch.Tensor, with_probe: bool) -> EncodedChunks:
    """Run the lower model over [C, L, hidden] chunk embeddings; record raw keys, values and the probe."""
    keys: dict[int, torch.Tensor] = {}
    values: dict[int, torch.Tensor] = {}
    probe: list[torch.Tensor] = []
    handles = []
    for idx, layer in enumerate(lower.layers):
        attn = layer.self_attn
        handles.append(attn.k_proj.register_forward_hook(lambda m, a, out, i=idx: keys.__setitem__(i, out)))
        handles.append(attn.v_proj.register_forward_hook(lambda m, a, out, i=idx: values.__setitem__(i, out)))
    if with_probe:
        handles.append(lower.layers[0].register_forward_hook(lambda m, a, out: probe.append(out)))
    head_dim = lower.layers[0].self_attn.head_dim
    try:
        with _eval_mode(lower.layers):
            lower(inputs_embeds=embeds, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    return EncodedChunks(
        [_heads(keys[i], head_dim) for i in range(len(keys))],
        [_heads(values[i], head_dim) for i in range(len(values))],
        probe[0] if with_probe else None,
    )
