"""Cross-attention onto the lower model's own keys and values (the "self-injection")."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import (
    LlamaRMSNorm,
    apply_rotary_pos_emb,
    eager_attention_forward,
)

from sharedllm.model.injected_context import InjectedContext


class SharedKVCrossAttention(nn.Module):
    """RMSNorm -> q_proj -> attention over injected K/V -> o_proj. No k/v projections: the keys and values
    are the lower model's same-layer projections. o_proj starts at zero so an untrained model is its base."""

    def __init__(self, config, layer_idx: int, q_bias: bool):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False  # every running-text token may read every context key
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=q_bias)
        self.o_proj = nn.Linear(config.num_attention_heads * self.head_dim, config.hidden_size, bias=False)

    def forward(
        self, hidden_states: torch.Tensor, context: InjectedContext, injection_idx: int
    ) -> torch.Tensor:
        bsz, q_len, _ = hidden_states.shape
        query = self.q_proj(self.norm(hidden_states)).view(bsz, q_len, -1, self.head_dim).transpose(1, 2)
        key, value = context.keys[injection_idx], context.values[injection_idx]
        cos, sin, mask = context.query_cos, context.query_sin, context.mask
        if key.shape[0] != bsz:  # one shared context for the whole batch
            key, value = key.expand(bsz, -1, -1, -1), value.expand(bsz, -1, -1, -1)
            cos, sin = cos.expand(bsz, -1, -1), sin.expand(bsz, -1, -1)
            mask = mask.expand(bsz, -1) if mask is not None else None
        query, _ = apply_rotary_pos_emb(query, query, cos.to(query.dtype), sin.to(query.dtype))

        attention_interface, attn_mask = self._attention(mask, query.dtype)
        attn_output, _ = attention_interface(
            self,
            query,
            key.to(query.dtype),
            value.to(query.dtype),
            attn_mask,
            dropout=0.0,
            scaling=self.scaling,
            is_causal=False,
        )
        return self.o_proj(attn_output.reshape(bsz, q_len, -1).contiguous())

    def _attention(
        self, mask: torch.Tensor | None, dtype: torch.dtype
    ) -> tuple[Callable, torch.Tensor | None]:
        """The model's attention function and the key-padding mask in the form it takes."""
        implementation = self.config._attn_implementation or "sdpa"
        if implementation.startswith("flash") and mask is not None:
            # Flash kernels take padding as the tail of a causal layout, not a cross-attention key mask.
            implementation = "sdpa"
        interface = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        if mask is None:
            return interface, None
        additive = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
        additive = additive.masked_fill(~mask, torch.finfo(dtype).min)
        return interface, additive[:, None, None, :]
