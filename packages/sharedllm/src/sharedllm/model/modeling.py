"""SharedLLMForCausalLM: a pretrained Llama-family model (upper) reading a compressed context that its own
bottom layers (lower) encoded, through cross-attention blocks in its bottom M layers.

Built from transformers' own pieces: the upper model is the base `*ForCausalLM` (its decoder layers,
attention interface and DynamicCache), the lower model is the base `*Model` cut to M layers, and the
lower model's keys/values are read straight out of the DynamicCache it fills while encoding chunks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, DynamicCache, GenerationMixin, PreTrainedModel
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.models.llama.modeling_llama import rotate_half
from transformers.utils.deprecation import deprecate_kwarg

from sharedllm.config import SharedLLMConfig
from sharedllm.model.cross_attention import SharedKVCrossAttention
from sharedllm.model.injected_context import InjectedContext
from sharedllm.model.injected_layer import InjectedDecoderLayer
from sharedllm.tree import ContextTree, gather_positions


@dataclass
class SharedLLMOutput(CausalLMOutputWithPast):
    """The usual causal LM output plus the context the upper model read (reused by `generate`)."""

    injected_context: InjectedContext | None = None


@dataclass
class EncodedChunks:
    """The lower model's full per-layer keys/values of some chunks ([C, kv_heads, L, head_dim] each) and, for
    the query-aware policy, their hidden states after the first lower layer ([C, L, hidden])."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    probe: torch.Tensor | None


class SharedLLMPreTrainedModel(PreTrainedModel):
    config: SharedLLMConfig
    config_class = SharedLLMConfig
    base_model_prefix = "sharedllm"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _no_split_modules = [
        "InjectedDecoderLayer",
        "LlamaDecoderLayer",
        "MistralDecoderLayer",
        "Qwen2DecoderLayer",
    ]

    def _init_weights(self, module):
        if isinstance(module, SharedKVCrossAttention):
            std = getattr(self.config.base_config, "initializer_range", 0.02)
            nn.init.normal_(module.q_proj.weight, std=std)
            if module.q_proj.bias is not None:
                nn.init.zeros_(module.q_proj.bias)
            nn.init.zeros_(module.o_proj.weight)  # untrained injection adds exactly nothing
            nn.init.ones_(module.norm.weight)
            return
        super()._init_weights(module)


class SharedLLMForCausalLM(SharedLLMPreTrainedModel, GenerationMixin):
    def __init__(self, config: SharedLLMConfig):
        super().__init__(config)
        base_config = config.base_config
        num_injection = config.num_injection_layers
        self.upper = AutoModelForCausalLM.from_config(base_config)
        layers = self.upper_decoder.layers
        for idx in range(num_injection):
            layers[idx] = InjectedDecoderLayer(layers[idx], base_config, idx)

        lower_config = copy.deepcopy(base_config)
        lower_config.num_hidden_layers = num_injection
        if getattr(lower_config, "layer_types", None) is not None:
            lower_config.layer_types = list(lower_config.layer_types[:num_injection])
        self.lower = AutoModel.from_config(lower_config)
        self.lower.embed_tokens = None  # the lower model reads the upper model's token embeddings
        self.lower.requires_grad_(False)  # frozen compressor, as in the paper

        self.tree = ContextTree.from_config(config)
        self.post_init()

    # ---- plumbing -------------------------------------------------------------------------------------
    @property
    def upper_decoder(self) -> nn.Module:
        return getattr(self.upper, self.upper.base_model_prefix)

    def get_input_embeddings(self) -> nn.Module:
        return self.upper.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.upper.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.upper.get_output_embeddings()

    def new_context_cache(self):
        from sharedllm.context_cache import ContextCache

        return ContextCache(self)

    # ---- building ----------------------------------------------------------------------------------------
    @classmethod
    def from_base(
        cls,
        name_or_path_or_model: str | PreTrainedModel,
        num_injection_layers: int = 4,
        chunk_size: int = 1024,
        tree_height: int = 3,
        kv_per_node: int = 32,
        split_noise_sigma: float = 0.2,
        selection_policy: str = "right",
        upper_window: int = 4096,
        encode_batch_chunks: int = 16,
        **from_pretrained_kwargs,
    ) -> SharedLLMForCausalLM:
        """Wrap a Llama-family causal LM (a hub id, a local path, or a loaded model): the upper model is the
        base model with cross-attention in its bottom M layers, the lower model its bottom M layers."""
        if isinstance(name_or_path_or_model, PreTrainedModel):
            base = name_or_path_or_model
        else:
            base = AutoModelForCausalLM.from_pretrained(name_or_path_or_model, **from_pretrained_kwargs)
        config = SharedLLMConfig(
            base_config=copy.deepcopy(base.config),
            num_injection_layers=num_injection_layers,
            chunk_size=chunk_size,
            tree_height=tree_height,
            kv_per_node=kv_per_node,
            split_noise_sigma=split_noise_sigma,
            selection_policy=selection_policy,
            upper_window=upper_window,
            encode_batch_chunks=encode_batch_chunks,
        )
        with torch.device(base.device):  # build in place: no second copy of a large model on the CPU
            model = cls._from_config(config, dtype=base.dtype)
        model.load_base_weights(base)
        model.generation_config = copy.deepcopy(base.generation_config)
        return model

    @torch.no_grad()
    def load_base_weights(self, base: PreTrainedModel) -> None:
        """Copy a base checkpoint's weights into the upper and lower models; q_proj of each cross-attention
        starts as its layer's self-attention q_proj (the keys it meets are that layer's keys)."""
        state = base.state_dict()
        missing, unexpected = self.upper.load_state_dict(state, strict=False)
        stray = [key for key in missing if ".cross_attn." not in key]
        if stray or unexpected:
            raise ValueError(
                f"base checkpoint does not fit the upper model: missing {stray}, extra {unexpected}"
            )
        prefix = self.upper.base_model_prefix + "."
        lower_state = {
            key[len(prefix) :]: value
            for key, value in state.items()
            if key.startswith(prefix) and key[len(prefix) :] in self.lower.state_dict()
        }
        missing, _ = self.lower.load_state_dict(lower_state, strict=False)
        if missing:
            raise ValueError(f"base checkpoint lacks lower-model weights: {missing}")
        for layer in self.upper_decoder.layers[: self.config.num_injection_layers]:
            layer.cross_attn.q_proj.load_state_dict(layer.self_attn.q_proj.state_dict())
            layer.cross_attn.o_proj.weight.zero_()

    # ---- context encoding ------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_chunks(self, chunks: torch.LongTensor) -> EncodedChunks:
        """Run the frozen lower model over [C, L] chunks (in groups) and keep each layer's keys/values."""
        keys: list[list[torch.Tensor]] = [[] for _ in range(self.config.num_injection_layers)]
        values: list[list[torch.Tensor]] = [[] for _ in range(self.config.num_injection_layers)]
        probes = []
        for group in chunks.split(self.config.encode_batch_chunks):
            encoded = self._encode_group(group)
            for idx in range(len(keys)):
                keys[idx].append(encoded.keys[idx])
                values[idx].append(encoded.values[idx])
            probes.append(encoded.probe)
        return EncodedChunks(
            [torch.cat(k) for k in keys],
            [torch.cat(v) for v in values],
            torch.cat(probes) if self.tree.needs_query else None,
        )

    @torch.no_grad()
    def _encode_group(self, chunks: torch.LongTensor) -> EncodedChunks:
        cache = DynamicCache()
        outputs = self.lower(
            inputs_embeds=self.get_input_embeddings()(chunks),
            cache=cache,
            use_cache=True,
            output_hidden_states=self.tree.needs_query,
        )
        probe = outputs.hidden_states[1] if self.tree.needs_query else None
        return EncodedChunks(
            [layer.keys for layer in cache.layers], [layer.values for layer in cache.layers], probe
        )

    def compress(
        self, encoded: EncodedChunks, chunk_positions: torch.LongTensor, query: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Tree-select each chunk's kept positions from all M layers and rotate the kept keys to their chunk's
        position (all keys of chunk i sit at position i, so the upper model sees chunk order)."""
        num_chunks = chunk_positions.shape[0]
        positions = self.tree.select(
            num_chunks, chunk_positions.device, training=self.training, probe=encoded.probe, query=query
        )
        cos, sin = self._rotation(encoded.keys[0], chunk_positions[:, None])
        cos, sin = cos[:, None], sin[:, None]  # [C, 1, 1, head_dim]
        keys = []
        for layer_keys in encoded.keys:
            kept = gather_positions(layer_keys, positions)
            keys.append(kept * cos + rotate_half(kept) * sin)
        values = [gather_positions(layer_values, positions) for layer_values in encoded.values]
        return keys, values

    @torch.no_grad()
    def compress_chunks(
        self, chunks: torch.LongTensor, chunk_positions: torch.LongTensor, query: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """[C, H, kv_per_chunk, D] keys and values per injection layer for [C, L] chunks."""
        groups = list(self._compressed_groups(chunks, chunk_positions, query))
        keys = [torch.cat([g[1][idx] for g in groups]) for idx in range(self.config.num_injection_layers)]
        values = [torch.cat([g[2][idx] for g in groups]) for idx in range(self.config.num_injection_layers)]
        return keys, values

    def _compressed_groups(self, chunks, chunk_positions, query):
        """Encode and compress `encode_batch_chunks` chunks at a time, so only one group's full keys exist."""
        step = self.config.encode_batch_chunks
        for start in range(0, chunks.shape[0], step):
            group = slice(start, start + step)
            encoded = self._encode_group(chunks[group])
            keys, values = self.compress(
                encoded, chunk_positions[group], None if query is None else query[group]
            )
            yield group, keys, values

    def _rotation(
        self, like: torch.Tensor, position_ids: torch.LongTensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.upper_decoder.rotary_emb(like, position_ids=position_ids)

    @torch.no_grad()
    def query_state(
        self,
        input_ids: torch.LongTensor | None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, hidden]: the last real position's hidden state after the upper model's first layer (run without
        injection, since the injection is what this state selects)."""
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        bsz, seq_len = inputs_embeds.shape[:2]
        position_ids = torch.arange(seq_len, device=inputs_embeds.device)[None].expand(bsz, -1)
        layer_types = getattr(self.config.base_config, "layer_types", None) or ["full_attention"]
        make_mask = (
            create_sliding_window_causal_mask if layer_types[0] == "sliding_attention" else create_causal_mask
        )
        mask = make_mask(
            config=self.config.base_config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            cache=None,
            position_ids=position_ids,
        )
        decoder = self.upper_decoder
        hidden = decoder.layers[0](
            inputs_embeds,
            attention_mask=mask,
            position_ids=position_ids,
            position_embeddings=decoder.rotary_emb(inputs_embeds, position_ids=position_ids),
        )
        if attention_mask is None:
            last = torch.full((bsz,), seq_len - 1, device=hidden.device)
        else:
            last = (attention_mask.bool() * torch.arange(1, seq_len + 1, device=hidden.device)).argmax(-1)
        return hidden[torch.arange(bsz, device=hidden.device), last]

    def build_injected_context(
        self,
        context_input_ids: torch.LongTensor | None = None,
        context_mask: torch.Tensor | None = None,
        context_cache=None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> InjectedContext | None:
        """The compressed context for a forward pass, from [B, N, L] chunk ids or from a ContextCache."""
        if context_input_ids is not None and context_cache is not None:
            raise ValueError("pass either context_input_ids or context_cache, not both")
        query = None
        if self.tree.needs_query and (context_input_ids is not None or context_cache is not None):
            query = self.query_state(input_ids, attention_mask, inputs_embeds)
        if context_cache is not None:
            return context_cache.injected_context(query)
        if context_input_ids is None:
            return None
        context_input_ids, context_mask = self._check_context(context_input_ids, context_mask)
        if not bool(context_mask.any()):
            return None
        return self._inject_batch(context_input_ids, context_mask, query)

    def _check_context(self, context_input_ids, context_mask) -> tuple[torch.LongTensor, torch.Tensor]:
        if context_input_ids.dim() != 3:
            raise ValueError(
                "context_input_ids must be [batch, chunks, chunk_size], "
                f"got shape {tuple(context_input_ids.shape)}"
            )
        if context_input_ids.shape[-1] != self.config.chunk_size:
            raise ValueError(
                f"context_input_ids chunks have {context_input_ids.shape[-1]} tokens, "
                f"the model's chunk_size is {self.config.chunk_size}"
            )
        if context_mask is None:
            context_mask = torch.ones(
                context_input_ids.shape[:2], dtype=torch.bool, device=context_input_ids.device
            )
        if context_mask.shape != context_input_ids.shape[:2]:
            raise ValueError(
                f"context_mask must be [batch, chunks] = {tuple(context_input_ids.shape[:2])}, "
                f"got {tuple(context_mask.shape)}"
            )
        return context_input_ids, context_mask.bool()

    def _inject_batch(
        self, context_input_ids: torch.LongTensor, context_mask: torch.Tensor, query: torch.Tensor | None
    ) -> InjectedContext:
        bsz = context_input_ids.shape[0]
        device = context_input_ids.device
        counts = context_mask.sum(-1)
        # Chunk positions count only the chunks that exist, so a padded row matches its own unbatched run.
        chunk_positions = (context_mask.cumsum(-1) - 1)[context_mask]
        rows = torch.arange(bsz, device=device)[:, None].expand_as(context_mask)[context_mask]
        chunk_query = query[rows] if query is not None else None
        max_chunks = max(int(counts.max()), 1)
        per_chunk = self.tree.kv_per_chunk
        layers = self.config.num_injection_layers
        # Groups go straight into [B, H, chunk slot, S, D] buffers: no extra copies at long lengths.
        keys: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        with torch.no_grad():
            for group, group_keys, group_values in self._compressed_groups(
                context_input_ids[context_mask], chunk_positions, chunk_query
            ):
                if not keys:
                    shape = (bsz, group_keys[0].shape[1], max_chunks, *group_keys[0].shape[2:])
                    keys = [group_keys[0].new_zeros(shape) for _ in range(layers)]
                    values = [group_values[0].new_zeros(shape) for _ in range(layers)]
                for idx in range(layers):
                    keys[idx][rows[group], :, chunk_positions[group]] = group_keys[idx]
                    values[idx][rows[group], :, chunk_positions[group]] = group_values[idx]

        def flat(
            dense: torch.Tensor,
        ) -> torch.Tensor:  # [B, H, max_chunks, S, D] -> [B, H, max_chunks * S, D]
            return dense.view(bsz, dense.shape[1], max_chunks * per_chunk, -1)

        mask = (torch.arange(max_chunks, device=device)[None] < counts[:, None]).repeat_interleave(
            per_chunk, -1
        )
        # A row without context attends to one all-zero key/value, which adds exactly zero.
        mask[:, 0] = True
        cos, sin = self._rotation(keys[0], counts[:, None])
        return InjectedContext(
            keys=[flat(k) for k in keys],
            values=[flat(v) for v in values],
            mask=None if bool(mask.all()) else mask,
            query_cos=cos,
            query_sin=sin,
        )

    # ---- forward / generate -------------------------------------------------------------------------
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        context_input_ids: torch.LongTensor | None = None,
        context_mask: torch.Tensor | None = None,
        context_cache=None,
        cache=None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        injected_context: InjectedContext | None = None,
        **kwargs,
    ) -> SharedLLMOutput:
        r"""
        context_input_ids: [B, N, chunk_size] past-context chunks, oldest first, for the lower model.
        context_mask: [B, N] bool, which chunks exist (rows may have fewer chunks).
        context_cache: a `ContextCache` holding encoded chunks (one context, broadcast to the batch).
        injected_context: the compressed context of an earlier call (what `generate` passes after prefill).
        """
        if injected_context is None:
            injected_context = self.build_injected_context(
                context_input_ids, context_mask, context_cache, input_ids, attention_mask, inputs_embeds
            )
        if use_cache is None:  # `model.config.use_cache = False` (set by a trainer) reaches the upper model
            use_cache = getattr(self.config, "use_cache", None)
        outputs = self.upper(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            injected_context=injected_context,
            **kwargs,
        )
        return SharedLLMOutput(
            loss=outputs.loss,
            logits=outputs.logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            injected_context=injected_context,
        )

    def _update_model_kwargs_for_generation(
        self, outputs, model_kwargs, is_encoder_decoder=False, num_new_tokens=1
    ):
        model_kwargs = super()._update_model_kwargs_for_generation(
            outputs, model_kwargs, is_encoder_decoder=is_encoder_decoder, num_new_tokens=num_new_tokens
        )
        # The tree is encoded once, at prefill; later steps reuse its compressed keys/values.
        if getattr(outputs, "injected_context", None) is not None:
            model_kwargs["injected_context"] = outputs.injected_context
            for key in ("context_input_ids", "context_mask", "context_cache"):
                model_kwargs.pop(key, None)
        return model_kwargs
