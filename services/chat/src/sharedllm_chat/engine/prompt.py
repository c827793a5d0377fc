"""Prompt layout: render the chat with the template, then lay it out as SharedLLM's one layout function
(`sharedllm.layout.layout_prompt`, the layout training and evaluation use too): start-anchored chunks, so a
conversation that grows by appending keeps all its earlier chunks byte-identical and only new chunks need
encoding on the next turn, and the rest as the running text.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from sharedllm.layout import PromptLayout, layout_prompt

__all__ = ["PromptLayout", "render_ids", "split_prompt"]


def render_ids(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # The template already writes any BOS/special tokens itself.
    return tokenizer.encode(text, add_special_tokens=False)


def split_prompt(
    ids: list[int], chunk_size: int, upper_window: int, max_new_tokens: int, min_chunks: int = 0
) -> PromptLayout:
    """Keep prompt + reply within the upper window; whole chunks before that go to the lower model.

    `min_chunks` lets a conversation keep using chunks it already has encoded (as long as at least one
    token is left for the upper model), so a shorter `max_tokens` never forces a re-encode.
    """
    return layout_prompt(ids, chunk_size, upper_window, reserve=max_new_tokens, min_chunks=min_chunks)
