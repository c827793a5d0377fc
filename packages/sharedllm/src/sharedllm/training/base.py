"""A small Llama-family base model trained from scratch: the stand-in for a hub checkpoint offline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset
from transformers import LlamaConfig, LlamaForCausalLM


@dataclass(frozen=True)
class BaseShape:
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 688
    window: int = 512  # the context length the base model is trained at: "its window"


def build_base_model(
    vocab_size: int,
    shape: BaseShape,
    pad_token_id: int = 0,
    bos_token_id: int = 1,
    eos_token_id: int = 2,
    seed: int = 0,
) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_heads,
        max_position_embeddings=shape.window,
        tie_word_embeddings=True,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
    )
    return LlamaForCausalLM(config)


class PackedBlocks(Dataset):
    """Documents joined by EOS and cut into equal blocks: the usual causal-LM pretraining examples."""

    def __init__(self, docs: list[np.ndarray], block_len: int, eos_token_id: int):
        if block_len < 2:
            raise ValueError(f"block_len must be at least 2, got {block_len}")
        eos = np.array([eos_token_id], dtype=np.int64)
        stream = np.concatenate([part for d in docs for part in (np.asarray(d, dtype=np.int64), eos)])
        n = len(stream) // block_len
        if n == 0:
            raise ValueError(f"{len(stream)} tokens do not fill one block of {block_len}")
        self.blocks = torch.from_numpy(stream[: n * block_len].reshape(n, block_len))

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.blocks[i]


def collate_blocks(blocks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    ids = torch.stack(blocks)
    return {"input_ids": ids, "labels": ids}
