"""SharedLLMConfig: the base model's config plus the self-injection and context-tree settings."""

from __future__ import annotations

from typing import Literal

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from sharedllm.tree.context_tree import kv_per_chunk

SELECTION_POLICIES = ("right", "query", "query-max")


class SharedLLMConfig(PretrainedConfig):
    r"""
    base_config: the wrapped causal LM's config (Llama, Mistral, Qwen2, ...); the upper model's config.
    num_injection_layers: M, the bottom layers that get a cross-attention block; the lower model is the base
        model's bottom M layers.
    chunk_size: tokens per context chunk given to the lower model.
    tree_height: h, levels of the context tree below the root (3 in the paper).
    kv_per_node: key/value pairs kept per preserved node (32 in the paper: 1024-token chunks keep 128 KVs).
    split_noise_sigma: split-point noise std as a fraction of the node length (0.2 = l/5), training only.
    selection_policy: "right" (always expand the most recent half) or "query" (expand the child whose
        last-position hidden state is most similar to the query's) or "query-max" (the child holding the
        token most similar to the query).
    upper_window: the longest running text the upper model is meant to read; the rest goes into chunks.
    encode_batch_chunks: chunks encoded by the lower model at once (bounds memory at long contexts).
    chunk_positions: True (the paper): every kept key of chunk i is the lower layer's raw key rotated to
        position i, queries at position n (after the last chunk). False (the paper's ablation): kept keys keep
        their in-chunk positions and queries sit at chunk_size, so chunk order is invisible.
    injection_layers: the upper layers that get cross-attention (None: the bottom M, as in the paper; the
        ablation puts them elsewhere, e.g. the top M). The k-th of them reads lower layer k.
    share_lower_weights: the lower model runs the upper model's own bottom M layers (one set of weights).
        False keeps a separate frozen copy, needed only when the upper bottom layers train (preset "all").
    """

    model_type = "sharedllm"
    sub_configs_defaults = {"base_config": SubConfigSpec(config_class=AutoConfig, model_type="llama")}

    base_config: dict | PretrainedConfig | None = None
    num_injection_layers: int = 4
    chunk_size: int = 1024
    tree_height: int = 3
    kv_per_node: int = 32
    split_noise_sigma: float = 0.2
    selection_policy: Literal["right", "query", "query-max"] = "right"
    upper_window: int = 4096
    encode_batch_chunks: int = 16
    chunk_positions: bool = True
    injection_layers: list[int] | None = None
    share_lower_weights: bool = True

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate_sharedllm()

    def validate_sharedllm(self) -> None:
        """Clear messages naming the field instead of shape errors deep inside a forward pass."""
        layers = self.base_config.num_hidden_layers
        if not 1 <= self.num_injection_layers <= layers:
            raise ValueError(
                f"num_injection_layers must be in [1, {layers}], got {self.num_injection_layers}"
            )
        if self.tree_height < 1:
            raise ValueError(f"tree_height must be >= 1, got {self.tree_height}")
        if self.kv_per_node < 1:
            raise ValueError(f"kv_per_node must be >= 1, got {self.kv_per_node}")
        leaf = self.chunk_size // 2**self.tree_height
        if leaf < self.kv_per_node:
            raise ValueError(
                f"chunk_size={self.chunk_size} and tree_height={self.tree_height} give {leaf}-token leaves, "
                f"fewer than kv_per_node={self.kv_per_node}"
            )
        if self.selection_policy not in SELECTION_POLICIES:
            raise ValueError(
                f"selection_policy must be one of {SELECTION_POLICIES}, got {self.selection_policy!r}"
            )
        if not 0 <= self.split_noise_sigma < 1:
            raise ValueError(f"split_noise_sigma must be in [0, 1), got {self.split_noise_sigma}")
        if self.upper_window < 1 or self.encode_batch_chunks < 1:
            raise ValueError("upper_window and encode_batch_chunks must be positive")
        if self.injection_layers is not None:
            ids = list(self.injection_layers)
            if len(ids) != self.num_injection_layers or len(set(ids)) != len(ids):
                raise ValueError(
                    f"injection_layers must be {self.num_injection_layers} distinct layer indices, got {ids}"
                )
            if min(ids) < 0 or max(ids) >= layers:
                raise ValueError(f"injection_layers must lie in [0, {layers}), got {ids}")

    @property
    def injection_layer_ids(self) -> list[int]:
        """Upper layers with cross-attention, in order: the k-th reads the lower model's layer k."""
        if self.injection_layers is None:
            return list(range(self.num_injection_layers))
        return sorted(self.injection_layers)

    @property
    def kv_per_chunk(self) -> int:
        return kv_per_chunk(self.kv_per_node, self.tree_height)

    def get_text_config(self, decoder=None, encoder=None) -> PretrainedConfig:
        # Generation and cache code read vocab size, layer count and layer types from the text config.
        return self.base_config


__all__ = ["SharedLLMConfig"]
