"""Prompt layout: render the chat with the template, then cut what falls outside the upper window into chunks.

Chunk boundaries sit at fixed multiples of the chunk size from the start of the rendered chat, so a
conversation that grows by appending keeps all its earlier chunks byte-identical: only new chunks need
encoding on the next turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase


def render_ids(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # The template already writes any BOS/special tokens itself.
    return tokenizer.encode(text, add_special_tokens=False)


@dataclass(frozen=True)
class PromptLayout:
    context: torch.Tensor  # [N, chunk_size] chunks for the lower model (N may be 0)
    running: torch.Tensor  # [T] tokens for the upper model

    @property
    def num_chunks(self) -> int:
        return int(self.context.shape[0])


def split_prompt(
    ids: list[int], chunk_size: int, upper_window: int, max_new_tokens: int, min_chunks: int = 0
) -> PromptLayout:
    """Keep prompt + reply within the upper window; whole chunks before that go to the lower model.

    `min_chunks` lets a conversation keep using chunks it already has encoded (as long as at least one
    token is left for the upper model), so a shorter `max_tokens` never forces a re-encode.
    """
    overflow = len(ids) + max_new_tokens - upper_window
    n = math.ceil(overflow / chunk_size) if overflow > 0 else 0
    n = max(n, min_chunks)
    n = min(n, (len(ids) - 1) // chunk_size)  # the upper model needs at least one token
    tensor = torch.tensor(ids, dtype=torch.long)
    cut = n * chunk_size
    return PromptLayout(context=tensor[:cut].view(n, chunk_size), running=tensor[cut:])
