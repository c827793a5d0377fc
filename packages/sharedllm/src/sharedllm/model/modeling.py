"""SharedLLMForCausalLM: a pretrained Llama-family model (upper) reading a compressed context that its own
bottom layers (lower) encoded, through cross-attention blocks in M of its layers (the bottom M by default).

Built from transformers' own pieces: the upper model is the base `*ForCausalLM` (its decoder layers,
attention interface and DynamicCache); the lower model is the base family's `*Model` running the upper
model's own bottom M layers (`lower.py`); positions come from the base model's rotary module
(`positions.py`). A `ContextCache` only stores; this class encodes into it and reads it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers.initialization import no_init_weights
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils.deprecation import deprecate_kwarg

from sharedllm.config import SharedLLMConfig
from sharedllm.context_cache import ContextCache
from sharedllm.model.auto_map import write_auto_map
from sharedllm.model.cross_attention import SharedKVCrossAttention
from sharedllm.model.injected_context import InjectedContext, key_mask
from sharedllm.model.injected_layer import InjectedDecoderLayer
from sharedllm.model.lower import EncodedChunks, build_lower_model, lower_layer_copy, run_lower
from sharedllm.model.positions import kept_key_positions, query_position, rotate, rotation
from sharedllm.tree import ContextTree, gather_positions


@dataclass
class SharedLLMOutput(CausalLMOutputWithPast):
    """The usual causal LM output plus the context the upper model read (reused by `generate`)."""

    injected_context: InjectedContext | None = None


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

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also makes the folder loadable by `AutoModelForCausalLM` in a process that never imported
        sharedllm."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_auto_map(save_directory)


def _as_row(chunks: torch.Tensor) -> torch.Tensor:
    """[N, H, S, D] per-chunk keys -> one row [1, H, N*S, D], chunk-major like a batched forward pass."""
    return chunks.permute(1, 0, 2, 3).reshape(1, chunks.shape[1], -1, chunks.shape[3])


class SharedLLMForCausalLM(SharedLLMPreTrainedModel, GenerationMixin):
    def __init__(self, config: SharedLLMConfig, upper: PreTrainedModel | None = None):
        """`upper`: a loaded base causal LM to wrap in place (what `from_base` passes); otherwise one is
        built from `config.base_config`."""
        super().__init__(config)
        self.upper = upper if upper is not None else AutoModelForCausalLM.from_config(config.base_config)
        layers = self.upper_decoder.layers
        for lower_idx, idx in enumerate(config.injection_layer_ids):
            layers[idx] = InjectedDecoderLayer(layers[idx], self.upper.config, lower_idx)
        if not config.share_lower_weights:
            self.lower_layers = nn.ModuleList(
                lower_layer_copy(layer) for layer in layers[: config.num_injection_layers]
            )
        self.tree = ContextTree.from_config(config)
        self.post_init()

    # ---- plumbing -------------------------------------------------------------------------------------
    @property
    def upper_decoder(self) -> nn.Module:
        return getattr(self.upper, self.upper.base_model_prefix)

    @property
    def rotary_emb(self) -> nn.Module:
        return self.upper_decoder.rotary_emb

    @property
    def lower(self) -> nn.Module:
        """The lower model: the base `*Model` class over the upper model's bottom M layers (shared weights)
        or over `lower_layers` (a separate frozen copy). Not a registered submodule: it owns no tensors."""
        lower = self.__dict__.get("_lower_model")
        if lower is None:
            if self.config.share_lower_weights:
                layers = nn.ModuleList(self.upper_decoder.layers[: self.config.num_injection_layers])
            else:
                layers = self.lower_layers
            lower = build_lower_model(self.upper.config, layers, self.rotary_emb)
            self.__dict__["_lower_model"] = lower
        return lower

    def separate_lower_weights(self) -> None:
        """Give the lower model its own frozen copy of the bottom M layers (before they train)."""
        if not self.config.share_lower_weights:
            return
        layers = self.upper_decoder.layers[: self.config.num_injection_layers]
        self.lower_layers = nn.ModuleList(lower_layer_copy(layer) for layer in layers)
        self.config.share_lower_weights = False
        self.__dict__.pop("_lower_model", None)

    def get_input_embeddings(self) -> nn.Module:
        return self.upper.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.upper.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.upper.get_output_embeddings()

    def set_selection(self, policy: str | None = None, split_noise_sigma: float | None = None) -> None:
        """Change the tree's selection policy and/or training split noise (e.g. for a loaded checkpoint);
        a bad value raises a ValueError and changes nothing."""
        before = (self.config.selection_policy, self.config.split_noise_sigma)
        if policy is not None:
            self.config.selection_policy = policy
        if split_noise_sigma is not None:
            self.config.split_noise_sigma = split_noise_sigma
        try:
            self.config.validate_sharedllm()
        except ValueError:
            self.config.selection_policy, self.config.split_noise_sigma = before
            raise
        self.tree = ContextTree.from_config(self.config)

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
        chunk_positions: bool = True,
        injection_layers: list[int] | None = None,
        **from_pretrained_kwargs,
    ) -> SharedLLMForCausalLM:
        """Wrap a Llama-family causal LM (a hub id, a local path, or a loaded model) in place: the upper
        model IS the base model (a loaded model is taken over, not copied), with cross-attention blocks
        added; the lower model runs its bottom M layers."""
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
            chunk_positions=chunk_positions,
            injection_layers=injection_layers,
        )
        # Only the new cross-attention modules are created (on the base's device, in its dtype); nothing
        # re-initialises the base's weights.
        with no_init_weights(), torch.device(base.device):
            model = cls._from_config(config, dtype=base.dtype, upper=base)
        model.init_injection()
        model.generation_config = copy.deepcopy(base.generation_config)
        return model.train(base.training)

    @torch.no_grad()
    def init_injection(self) -> None:
        """Each cross-attention starts from the lower layer whose keys it reads: q_proj = that layer's
        self-attention q_proj, o_proj = 0 (so an untrained SharedLLM is exactly its base), norm = 1."""
        lower_layers = self.lower.layers
        for lower_idx, idx in enumerate(self.config.injection_layer_ids):
            cross = self.upper_decoder.layers[idx].cross_attn
            cross.q_proj.load_state_dict(lower_layers[lower_idx].self_attn.q_proj.state_dict())
            cross.o_proj.weight.zero_()
            cross.norm.weight.fill_(1.0)

    # ---- context encoding ------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_chunks(self, chunks: torch.LongTensor) -> EncodedChunks:
        """Run the frozen lower model over [C, L] chunks (in groups): raw keys, values, probe states."""
        groups = [self._encode_group(group) for group in chunks.split(self.config.encode_batch_chunks)]
        layers = range(self.config.num_injection_layers)
        return EncodedChunks(
            [torch.cat([g.keys[idx] for g in groups]) for idx in layers],
            [torch.cat([g.values[idx] for g in groups]) for idx in layers],
            torch.cat([g.probe for g in groups]) if self.tree.needs_query else None,
        )

    def _encode_group(self, chunks: torch.LongTensor) -> EncodedChunks:
        return run_lower(self.lower, self.get_input_embeddings()(chunks), self.tree.needs_query)

    def compress(
        self,
        encoded: EncodedChunks,
        chunk_positions: torch.LongTensor,
        query: torch.Tensor | None = None,
        training: bool = False,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Tree-select each chunk's kept positions in all M layers; rotate the kept raw keys to their chunk's
        position (all keys of chunk i at position i). Split noise only when `training`."""
        num_chunks, device = chunk_positions.shape[0], chunk_positions.device
        kept = self.tree.select(num_chunks, device, training=training, probe=encoded.probe, query=query)
        positions = kept_key_positions(kept, chunk_positions, self.config.chunk_positions)
        cos, sin = rotation(self.rotary_emb, encoded.keys[0], positions)
        keys = [rotate(gather_positions(layer_keys, kept), cos, sin) for layer_keys in encoded.keys]
        values = [gather_positions(layer_values, kept) for layer_values in encoded.values]
        return keys, values

    @torch.no_grad()
    def compress_chunks(
        self,
        chunks: torch.LongTensor,
        chunk_positions: torch.LongTensor,
        query: torch.Tensor | None = None,
        training: bool = False,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """[C, H, kv_per_chunk, D] keys and values per injection layer for [C, L] chunks."""
        groups = list(self._compressed_groups(chunks, chunk_positions, query, training))
        layers = range(self.config.num_injection_layers)
        keys = [torch.cat([g[1][idx] for g in groups]) for idx in layers]
        values = [torch.cat([g[2][idx] for g in groups]) for idx in layers]
        return keys, values

    def _compressed_groups(self, chunks, chunk_positions, query, training):
        """Encode and compress `encode_batch_chunks` chunks at a time, so only one group's full keys exist."""
        step = self.config.encode_batch_chunks
        for start in range(0, chunks.shape[0], step):
            group = slice(start, start + step)
            encoded = self._encode_group(chunks[group])
            group_query = None if query is None else query[group]
            keys, values = self.compress(encoded, chunk_positions[group], group_query, training)
            yield group, keys, values

    def _query_rotation(self, like: torch.Tensor, num_chunks: torch.LongTensor):
        position = query_position(num_chunks, self.config.chunk_size, self.config.chunk_positions)
        return rotation(self.rotary_emb, like, position)

    # ---- the context cache -------------------------------------------------------------------------------
    def new_context_cache(self) -> ContextCache:
        """An empty cache for one context (compressed unless the query-aware policy needs full keys)."""
        return ContextCache(self.config.num_injection_layers, compressed=not self.tree.needs_query)

    @torch.no_grad()
    def extend_context(self, cache: ContextCache, chunks: torch.Tensor) -> ContextCache:
        """Encode [N, chunk_size] token ids (oldest first) after the chunks `cache` holds and store them.
        Deterministic whatever `self.training` says: a cache never sees split noise or dropout."""
        self._check_cache(cache)
        chunks = self._check_chunks(chunks)
        n = chunks.shape[0]
        if n == 0:
            return cache
        if not cache.compressed:
            encoded = self.encode_chunks(chunks)
            return cache.append(encoded.keys, encoded.values, n, encoded.probe)
        positions = torch.arange(cache.num_chunks, cache.num_chunks + n, device=chunks.device)
        keys, values = self.compress_chunks(chunks, positions, training=False)
        return cache.append([_as_row(k) for k in keys], [_as_row(v) for v in values], n)

    def _check_cache(self, cache: ContextCache) -> None:
        if cache.num_layers != self.config.num_injection_layers or cache.compressed == self.tree.needs_query:
            raise ValueError("this ContextCache was not made by this model's new_context_cache()")

    def _check_chunks(self, chunks) -> torch.LongTensor:
        chunks = torch.as_tensor(chunks, dtype=torch.long, device=self.device)
        chunk_size = self.config.chunk_size
        if chunks.dim() != 2 or chunks.shape[1] != chunk_size:
            raise ValueError(f"chunks must be [N, {chunk_size}] token ids, got shape {tuple(chunks.shape)}")
        vocab = self.config.base_config.vocab_size
        if chunks.numel() and (int(chunks.min()) < 0 or int(chunks.max()) >= vocab):
            raise ValueError(f"chunk token ids must be in [0, {vocab})")
        return chunks

    def _context_from_cache(self, cache: ContextCache, query: torch.Tensor | None) -> InjectedContext | None:
        self._check_cache(cache)
        if cache.num_chunks == 0:
            return None
        n = torch.tensor([cache.num_chunks], device=self.device)
        if cache.compressed:
            keys, values = cache.layers()
        else:
            if query is None or query.shape[0] != 1:
                raise ValueError("a query-aware ContextCache serves one query at a time (batch size 1)")
            raw_keys, raw_values = cache.layers()
            encoded = EncodedChunks(raw_keys, raw_values, cache.probe())
            positions = torch.arange(cache.num_chunks, device=self.device)
            keys, values = self.compress(encoded, positions, query.expand(cache.num_chunks, -1))
            keys, values = [_as_row(k) for k in keys], [_as_row(v) for v in values]
        cos, sin = self._query_rotation(keys[0], n)
        return InjectedContext(keys, values, None, cos, sin)

    # ---- the query --------------------------------------------------------------------------------------
    @torch.no_grad()
    def query_state(
        self,
        input_ids: torch.LongTensor | None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        query_positions: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        """[B, hidden]: the query's hidden state after the upper model's first layer (run without injection,
        since the injection is what this state selects), at `query_positions` [B] (the end of the query
        span: the last user turn in chat training) or else at each row's last real position."""
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        bsz, seq_len = inputs_embeds.shape[:2]
        position_ids = torch.arange(seq_len, device=inputs_embeds.device)[None].expand(bsz, -1)
        layer_types = getattr(self.config.base_config, "layer_types", None) or ["full_attention"]
        make_mask = (
            create_sliding_window_causal_mask if layer_types[0] == "sliding_attention" else create_causal_mask
        )
        mask = make_mask(
            config=self.upper.config,
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
        if query_positions is not None:
            last = query_positions.to(hidden.device).long()
        elif attention_mask is None:
            last = torch.full((bsz,), seq_len - 1, device=hidden.device)
        else:
            last = (attention_mask.bool() * torch.arange(1, seq_len + 1, device=hidden.device)).argmax(-1)
        return hidden[torch.arange(bsz, device=hidden.device), last]

    # ---- the context of a forward pass -----------------------------------------------------------------
    def build_injected_context(
        self,
        context_input_ids: torch.LongTensor | None = None,
        context_mask: torch.Tensor | None = None,
        context_cache: ContextCache | None = None,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        query_positions: torch.LongTensor | None = None,
    ) -> InjectedContext | None:
        """The compressed context for a forward pass, from [B, N, L] chunk ids or from a ContextCache."""
        if context_input_ids is not None and context_cache is not None:
            raise ValueError("pass either context_input_ids or context_cache, not both")
        query = None
        if self.tree.needs_query and (context_input_ids is not None or context_cache is not None):
            query = self.query_state(input_ids, attention_mask, inputs_embeds, query_positions)
        if context_cache is not None:
            return self._context_from_cache(context_cache, query)
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
        per_chunk = self.config.kv_per_chunk
        layers = self.config.num_injection_layers
        # Groups go straight into [B, H, chunk slot, S, D] buffers: no extra copies at long lengths.
        keys: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        with torch.no_grad():
            for group, group_keys, group_values in self._compressed_groups(
                context_input_ids[context_mask], chunk_positions, chunk_query, self.training
            ):
                if not keys:
                    shape = (bsz, group_keys[0].shape[1], max_chunks, *group_keys[0].shape[2:])
                    keys = [group_keys[0].new_zeros(shape) for _ in range(layers)]
                    values = [group_values[0].new_zeros(shape) for _ in range(layers)]
                for idx in range(layers):
                    keys[idx][rows[group], :, chunk_positions[group]] = group_keys[idx]
                    values[idx][rows[group], :, chunk_positions[group]] = group_values[idx]

        def flat(dense: torch.Tensor) -> torch.Tensor:  # [B, H, chunks, S, D] -> [B, H, chunks * S, D]
            return dense.view(bsz, dense.shape[1], max_chunks * per_chunk, -1)

        cos, sin = self._query_rotation(keys[0], counts)
        return InjectedContext(
            keys=[flat(k) for k in keys],
            values=[flat(v) for v in values],
            mask=key_mask(counts * per_chunk, max_chunks * per_chunk),
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
        context_cache: ContextCache | None = None,
        cache=None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        injected_context: InjectedContext | None = None,
        query_positions: torch.LongTensor | None = None,
        **kwargs,
    ) -> SharedLLMOutput:
        r"""
        context_input_ids: [B, N, chunk_size] past-context chunks, oldest first, for the lower model.
        context_mask: [B, N] bool, which chunks exist (rows may have fewer chunks).
        context_cache: a `ContextCache` holding encoded chunks (one context, broadcast to the batch).
        injected_context: the compressed context of an earlier call (what `generate` passes after prefill).
        query_positions: [B] the last position of each row's query span (query-aware policy; default: the
            row's last real token).
        """
        if injected_context is None:
            injected_context = self.build_injected_context(
                context_input_ids,
                context_mask,
                context_cache,
                input_ids,
                attention_mask,
                inputs_embeds,
                query_positions,
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
            for key in ("context_input_ids", "context_mask", "context_cache", "query_positions"):
                model_kwargs.pop(key, None)
        return model_kwargs
