"""The one prompt layout, shared by training, evaluation and serving: context chunks + the running text.

Chunks are anchored at the start of the sequence (chunk k is tokens [k*C, (k+1)*C)), so a chat that grows
by appending keeps every earlier chunk byte-identical and its encoded chunks stay valid; what follows the
last whole chunk is the running text the upper model reads. The number of chunks is the fewest that keep
the running text (plus `reserve` tokens still to be generated) within the upper window, so the running
text has between upper_window - C - reserve + 1 and upper_window - reserve tokens once there is context.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PromptLayout:
    context: torch.Tensor  # [N, chunk_size] chunks for the lower model, oldest first (N may be 0)
    running: torch.Tensor  # [T] the running text for the upper model

    @property
    def num_chunks(self) -> int:
        return int(self.context.shape[0])


def num_context_chunks(
    length: int, chunk_size: int, upper_window: int, reserve: int = 0, min_chunks: int = 0
) -> int:
    """How many whole chunks go to the lower model: enough to fit the window, at least `min_chunks` (a
    conversation keeps the chunks it has already encoded), and never the last token."""
    if chunk_size <= 0 or upper_window <= 0:
        raise ValueError(f"chunk_size ({chunk_size}) and upper_window ({upper_window}) must be positive")
    overflow = length + reserve - upper_window
    n = max(math.ceil(overflow / chunk_size) if overflow > 0 else 0, min_chunks)
    return max(min(n, (length - 1) // chunk_size), 0)


def layout_prompt(
    ids: Sequence[int] | torch.Tensor,
    chunk_size: int,
    upper_window: int,
    reserve: int = 0,
    min_chunks: int = 0,
) -> PromptLayout:
    """Start-anchored chunks + the running text (see the module doc)."""
    tensor = torch.as_tensor(ids, dtype=torch.long)
    n = num_context_chunks(tensor.numel(), chunk_size, upper_window, reserve, min_chunks)
    cut = n * chunk_size
    return PromptLayout(context=tensor[:cut].view(n, chunk_size), running=tensor[cut:])


def sample_running_length(chunk_size: int, upper_window: int, rng: random.Random) -> int:
    """A running-text length as serving produces them once there is context: uniform over
    (upper_window - chunk_size, upper_window] (training draws its upper segments from this)."""
    low = max(upper_window - chunk_size + 1, 1)
    return rng.randint(low, upper_window)
