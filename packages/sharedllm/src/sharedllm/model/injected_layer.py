"""A base decoder layer with the cross-attention block inserted between self-attention and the MLP."""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from sharedllm.model.cross_attention import SharedKVCrossAttention
from sharedllm.model.injected_context import InjectedContext

# The pre-norm decoder layout shared by Llama, Mistral and Qwen2 (and most of the Llama family).
REQUIRED_PARTS = ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp")


class InjectedDecoderLayer(GradientCheckpointingLayer):
    """Keeps the base layer's own modules under their own names (so base checkpoints load unchanged) and adds
    `cross_attn`: x + self_attn(norm(x)), + cross_attn(.), + mlp(norm(.))."""

    def __init__(self, base_layer: nn.Module, config, injection_idx: int):
        super().__init__()
        missing = [name for name in REQUIRED_PARTS if not hasattr(base_layer, name)]
        if missing:
            raise ValueError(
                f"{type(base_layer).__name__} lacks {missing}: only pre-norm Llama-family layers fit"
            )
        self.hidden_size = config.hidden_size
        self.input_layernorm = base_layer.input_layernorm
        self.self_attn = base_layer.self_attn
        self.post_attention_layernorm = base_layer.post_attention_layernorm
        self.mlp = base_layer.mlp
        q_bias = base_layer.self_attn.q_proj.bias is not None
        self.cross_attn = SharedKVCrossAttention(config, injection_idx, q_bias=q_bias)
        self.injection_idx = injection_idx  # which lower layer's keys/values this layer reads

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        use_cache: bool | None = False,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        injected_context: InjectedContext | None = None,
        **kwargs,
    ) -> torch.Tensor:
        residual = hidden_states
        hidden_states, _ = self.self_attn(
            hidden_states=self.input_layernorm(hidden_states),
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            position_embeddings=position_embeddings,
            **kwargs,
        )
        hidden_states = residual + hidden_states

        if injected_context is not None:
            hidden_states = hidden_states + self.cross_attn(
                hidden_states, injected_context, self.injection_idx
            )

        residual = hidden_states
        hidden_states = self.mlp(self.post_attention_layernorm(hidden_states))
        return residual + hidden_states
