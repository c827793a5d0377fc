"""Chats for instruction tuning: the model's chat template, loss on the assistant turns only."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sharedllm.data.chunking import IGNORE_INDEX


def _template_ids(tokenizer, messages: Sequence[dict], add_generation_prompt: bool = False) -> list[int]:
    if not messages:
        return []
    out = tokenizer.apply_chat_template(
        list(messages), tokenize=True, add_generation_prompt=add_generation_prompt, return_dict=True
    )
    return list(out["input_ids"])


def encode_chat(tokenizer, messages: Sequence[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and labels of a rendered chat; labels are IGNORE_INDEX except on assistant replies.

    Works with any template whose rendering of a prefix of the chat is a prefix of the whole rendering
    (true of the usual templates): each assistant reply's span lies between the prompt rendered with a
    generation header and the rendering that includes the reply.
    """
    if tokenizer.chat_template is None:
        raise ValueError("the tokenizer has no chat template; set tokenizer.chat_template first")
    ids = _template_ids(tokenizer, messages)
    labels = [IGNORE_INDEX] * len(ids)
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        start = len(_template_ids(tokenizer, messages[:i], add_generation_prompt=True))
        end = len(_template_ids(tokenizer, messages[: i + 1]))
        if ids[:end] != _template_ids(tokenizer, messages[: i + 1]):
            raise ValueError("the chat template does not render prefixes stably; cannot mask the prompt")
        labels[start:end] = ids[start:end]
    return torch.tensor(ids, dtype=torch.long), torch.tensor(labels, dtype=torch.long)


def conversation_messages(conv) -> list[dict]:
    """A sharelm Conversation as the role/content dicts chat templates take."""
    return [{"role": m.role, "content": m.content} for m in conv.conversation]
