"""The per-chunk context tree: which token positions of each chunk the upper model gets to read.

Each chunk is the root. A node of l tokens splits into left = first b tokens and right = the rest,
b = floor(l/2 - eps), eps ~ N(0, (sigma*l)^2) in training and 0 at inference. Depth first from the root a
policy picks the child to expand; the other child is preserved (coarsely); at the last level both children
are preserved. Every preserved node keeps `kv_per_node` uniformly spaced positions, so coarser levels (longer
nodes) are sampled more sparsely: with 1024-token chunks and height 3, the 512-, 256- and two 128-token nodes
keep 32 each (ratios 1/16, 1/8, 1/4). Levels are concatenated finest first.

Everything here is index arithmetic over all chunks at once ([C] tensors), so shapes stay fixed even with
split noise and the gather that follows is a single `torch.gather`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kv_per_chunk(kv_per_node: int, height: int) -> int:
    """Keys kept per chunk (the one definition): two leaves plus one preserved sibling per level above."""
    return kv_per_node * (height + 1)


class ContextTree:
    def __init__(self, chunk_size: int, height: int, kv_per_node: int, noise_sigma: float, policy: str):
        self.chunk_size = chunk_size
        self.height = height
        self.kv_per_node = kv_per_node
        self.noise_sigma = noise_sigma
        self.policy = policy

    @classmethod
    def from_config(cls, config) -> ContextTree:
        return cls(
            config.chunk_size,
            config.tree_height,
            config.kv_per_node,
            config.split_noise_sigma,
            config.selection_policy,
        )

    @property
    def kv_per_chunk(self) -> int:
        return kv_per_chunk(self.kv_per_node, self.height)

    @property
    def needs_query(self) -> bool:
        return self.policy in ("query", "query-max")

    def select(
        self,
        num_chunks: int,
        device: torch.device,
        training: bool = False,
        probe: torch.Tensor | None = None,
        query: torch.Tensor | None = None,
    ) -> torch.LongTensor:
        """Positions to keep in each chunk, [C, kv_per_chunk], finest level first.

        probe: [C, L, d] hidden states of the chunks after the first lower layer; query: [C, d] the query's
        last-position hidden state after the first upper layer, repeated for each chunk of its row. Both are
        needed by the query-aware policy only.
        """
        if self.needs_query and (probe is None or query is None):
            raise ValueError("the query-aware policy needs the chunks' probe states and the query state")
        start = torch.zeros(num_chunks, dtype=torch.long, device=device)
        end = torch.full((num_chunks,), self.chunk_size, dtype=torch.long, device=device)
        kept: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        for level in range(1, self.height + 1):
            mid = start + self._split_offset(end - start, training, level)
            if level == self.height:
                kept.append([(start, mid), (mid, end)])
                break
            go_right = self._go_right(start, mid, end, probe, query)
            kept.append([(torch.where(go_right, start, mid), torch.where(go_right, mid, end))])
            start, end = torch.where(go_right, mid, start), torch.where(go_right, end, mid)
        nodes = [node for level in reversed(kept) for node in level]
        return torch.cat([self._uniform_positions(s, e) for s, e in nodes], dim=1)

    def _split_offset(self, length: torch.Tensor, training: bool, level: int) -> torch.Tensor:
        half = length.to(torch.float32) / 2
        if not (training and self.noise_sigma > 0):
            return half.floor().long()
        noisy = (half - torch.randn_like(half) * self.noise_sigma * length).floor().long()
        # Noise may move the split, but each child keeps enough tokens for its own subtree's leaves.
        min_child = torch.clamp(length // 2, max=self.kv_per_node * 2 ** (self.height - level))
        return torch.minimum(torch.maximum(noisy, min_child), length - min_child)

    def _go_right(self, start, mid, end, probe, query) -> torch.Tensor:
        if not self.needs_query:
            return torch.ones_like(start, dtype=torch.bool)
        if self.policy == "query-max":
            return self._go_right_max(start, mid, end, probe, query)
        rows = torch.arange(start.shape[0], device=start.device)
        left_state, right_state = probe[rows, mid - 1], probe[rows, end - 1]
        query = query.to(probe.dtype)
        left_sim = F.cosine_similarity(left_state.float(), query.float(), dim=-1)
        right_sim = F.cosine_similarity(right_state.float(), query.float(), dim=-1)
        return right_sim >= left_sim

    @staticmethod
    def _go_right_max(start, mid, end, probe, query) -> torch.Tensor:
        """ "query-max": each child scores the best cosine similarity of any of its tokens to the query (a
        needle anywhere in a node counts, not only the node's last token)."""
        sim = F.cosine_similarity(probe.float(), query.float()[:, None, :], dim=-1)  # [C, L]
        pos = torch.arange(probe.shape[1], device=probe.device)[None, :]

        def best(lo, hi):
            inside = (pos >= lo[:, None]) & (pos < hi[:, None])
            return sim.masked_fill(~inside, float("-inf")).amax(dim=1)

        return best(mid, end) >= best(start, mid)

    def _uniform_positions(self, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
        """kv_per_node evenly spaced positions in [start, end), each the last token of its stride."""
        steps = torch.arange(1, self.kv_per_node + 1, device=start.device)
        length = (end - start)[:, None]
        offsets = (steps[None, :] * length) // self.kv_per_node - 1
        return start[:, None] + offsets.clamp(min=0)


def gather_positions(states: torch.Tensor, positions: torch.LongTensor) -> torch.Tensor:
    """states [C, H, L, D], positions [C, S] -> [C, H, S, D]."""
    index = positions[:, None, :, None].expand(-1, states.shape[1], -1, states.shape[3])
    return torch.gather(states, 2, index)
