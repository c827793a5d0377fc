"""Rotary positions of the injected context: where the upper model sees each kept key, and its queries.

With chunk-level positions (the paper) every kept key of chunk i is the lower layer's raw key (after k_proj,
before any RoPE) rotated to position i, and the queries sit at position n, after the last chunk: chunk order
is a whole position per chunk. Without them (the ablation) a kept key keeps its in-chunk position p, exactly
what the lower model's own attention used, and the queries sit at chunk_size.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.models.llama.modeling_llama import rotate_half


def rotation(rotary_emb: nn.Module, like: torch.Tensor, positions: torch.LongTensor):
    """cos, sin [B, S, head_dim] (dtype of `like`) for positions [B, S], from the model's own rotary module
    (so RoPE scaling variants apply as in the base model)."""
    return rotary_emb(like, position_ids=positions)


def rotate(states: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on [B, H, S, D] states with cos/sin [B, S or 1, D] (broadcast over heads)."""
    cos, sin = cos[:, None].to(states.dtype), sin[:, None].to(states.dtype)
    return states * cos + rotate_half(states) * sin


def kept_key_positions(
    kept: torch.LongTensor, chunk_positions: torch.LongTensor, chunk_level: bool = True
) -> torch.LongTensor:
    """Where the upper model sees kept keys: [C, 1] chunk positions (every key of chunk i at i) or, without
    chunk-level positions, their in-chunk positions `kept` [C, S]."""
    return chunk_positions[:, None] if chunk_level else kept


def query_position(
    num_chunks: torch.LongTensor, chunk_size: int, chunk_level: bool = True
) -> torch.LongTensor:
    """[B, 1] position of the cross-attention queries: after the last chunk (n), or chunk_size without
    chunk-level positions."""
    if chunk_level:
        return num_chunks.reshape(-1, 1)
    return torch.full_like(num_chunks.reshape(-1, 1), chunk_size)
