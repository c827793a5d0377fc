"""What a server needs around SharedLLM, typed: lay out a prompt, keep a chat's context cache, prefill a
request with its context, and decode several requests in one batch (their self-attention caches and
their injected contexts stacked). Works for any transformers causal LM too (then without context).

    layout = layout_prompt(ids, model.config.chunk_size, model.config.upper_window, reserve=max_new)
    cache = model.extend_context(model.new_context_cache(), layout.context)   # grows turn by turn
    step = prefill(model, layout.running, cache)                              # step.context: reuse it
    batch = DecodeState.stack([step.cache, other.cache], [step.context, other.context])
    logits = batch.decode(model, [token, other_token])                        # [2, vocab]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer

from sharedllm.context_cache import ContextCache
from sharedllm.layout import PromptLayout, layout_prompt
from sharedllm.model import InjectedContext, SharedLLMForCausalLM

__all__ = [
    "DecodeState",
    "PromptLayout",
    "Step",
    "layout_prompt",
    "prefill",
    "stack_contexts",
    "stackable",
]


@dataclass
class Step:
    """One request after a forward pass: its next-token logits [vocab], its self-attention cache, and the
    compressed context it read (None without one), to decode with."""

    logits: torch.Tensor
    cache: DynamicCache
    context: InjectedContext | None


def _forward(model: PreTrainedModel, input_ids: torch.Tensor, **kwargs):
    # Only the last position's logits: [T, vocab] is large for real vocabularies.
    return model(input_ids=input_ids.to(model.device), use_cache=True, logits_to_keep=1, **kwargs)


def prefill(model: PreTrainedModel, running: torch.Tensor, context_cache: ContextCache | None = None) -> Step:
    """Run one request's running text [T] (with its chat's context cache, for a SharedLLM)."""
    kwargs = {}
    if context_cache is not None:
        if not isinstance(model, SharedLLMForCausalLM):
            raise ValueError("only a SharedLLM reads a context cache")
        kwargs["context_cache"] = context_cache
    out = _forward(model, running.view(1, -1), **kwargs)
    return Step(out.logits[0, -1], out.cache, getattr(out, "injected_context", None))


def decode_one(model: PreTrainedModel, token: int, step: Step) -> Step:
    """One more token for a request decoding alone (with the context it read at prefill)."""
    kwargs = {"injected_context": step.context} if step.context is not None else {}
    out = _forward(model, torch.tensor([[token]]), cache=step.cache, **kwargs)
    return Step(out.logits[0, -1], out.cache, step.context)


def stack_contexts(contexts: Sequence[InjectedContext | None]) -> InjectedContext | None:
    """Several requests' contexts as one batch (key mask over the padding); see `InjectedContext.stack`."""
    return InjectedContext.stack(contexts)


def stackable(cache: DynamicCache) -> bool:
    """Only plain full-attention dynamic caches are stacked (sliding-window layers would need more care)."""
    return isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _pad_left(t: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(t, (0, 0, pad, 0)) if pad else t


@dataclass(eq=False)
class DecodeState:
    """Several requests decoding together: their caches left-padded to a common length (padding masked,
    positions per row) and their contexts stacked. One `decode` advances every row by a token."""

    cache: DynamicCache
    lengths: list[int]  # real tokens per row
    attention_mask: torch.Tensor  # [B, max(lengths)], 0 over the left padding
    context: InjectedContext | None

    @classmethod
    def stack(cls, caches: Sequence[DynamicCache], contexts: Sequence[InjectedContext | None]) -> DecodeState:
        if not all(stackable(c) for c in caches):
            raise ValueError("only full-attention DynamicCaches can be stacked")
        lengths = [c.get_seq_length() for c in caches]
        longest = max(lengths)
        data = []
        for layer_idx in range(len(caches[0].layers)):
            layers = [(c.layers[layer_idx], longest - n) for c, n in zip(caches, lengths, strict=True)]
            keys = torch.cat([_pad_left(layer.keys, pad) for layer, pad in layers])
            values = torch.cat([_pad_left(layer.values, pad) for layer, pad in layers])
            data.append((keys, values))
        mask = torch.zeros(len(caches), longest, dtype=torch.long, device=data[0][0].device)
        for row, n in enumerate(lengths):
            mask[row, longest - n :] = 1
        return cls(DynamicCache(ddp_cache_data=data), lengths, mask, stack_contexts(contexts))

    def row_cache(self, row: int) -> DynamicCache:
        """Row `row`'s cache without its padding (for the request to go on alone or join another batch)."""
        start = self.attention_mask.shape[1] - self.lengths[row]
        data = [
            (layer.keys[row : row + 1, :, start:], layer.values[row : row + 1, :, start:])
            for layer in self.cache.layers
        ]
        return DynamicCache(ddp_cache_data=data)

    def decode(self, model: PreTrainedModel, tokens: Sequence[int]) -> torch.Tensor:
        """Feed one token per row; returns the next-token logits [B, vocab]."""
        device = self.attention_mask.device
        ones = torch.ones(len(tokens), 1, dtype=self.attention_mask.dtype, device=device)
        self.attention_mask = torch.cat([self.attention_mask, ones], dim=1)
        kwargs = {"injected_context": self.context} if self.context is not None else {}
        out = _forward(
            model,
            torch.tensor(list(tokens), device=device).view(-1, 1),
            attention_mask=self.attention_mask,
            position_ids=torch.tensor(self.lengths, device=device).view(-1, 1),
            cache=self.cache,
            **kwargs,
        )
        self.lengths = [n + 1 for n in self.lengths]
        return out.logits[:, -1]
