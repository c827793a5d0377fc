"""Differential privacy on the feedback vector a client sends: L2 clipping + Gaussian noise.

The released vector per round is a Gaussian mechanism with L2 sensitivity `clip` (client-level add/remove
adjacency, as in DP-FedAvg) and noise standard deviation `noise_multiplier * clip`. The privacy spent over
the rounds a client took part in comes from `dp-accounting`'s RDP accountant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def privatize(
    feedback: Sequence[float],
    noise_multiplier: float,
    clip: float = 0.0,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Clip to L2 norm `clip` (0: sqrt(n), the largest a [0,1]^n vector has), add noise, map to [0,1]."""
    v = torch.tensor(list(feedback), dtype=torch.float64)
    if not len(v) or noise_multiplier <= 0:
        return v.tolist()
    c = clip or math.sqrt(len(v))
    v = v * min(1.0, c / max(v.norm().item(), 1e-12))
    v = v + torch.randn(v.shape, generator=generator, dtype=torch.float64) * noise_multiplier * c
    return v.clamp(0.0, 1.0).tolist()  # post-processing: costs no privacy


def epsilon_spent(noise_multiplier: float, rounds: int, delta: float) -> float:
    """(epsilon, delta)-DP of `rounds` Gaussian releases with this noise multiplier (RDP accounting)."""
    if noise_multiplier <= 0:
        return math.inf
    if rounds <= 0:
        return 0.0
    from dp_accounting import GaussianDpEvent, SelfComposedDpEvent
    from dp_accounting.rdp import RdpAccountant

    accountant = RdpAccountant()
    accountant.compose(SelfComposedDpEvent(GaussianDpEvent(noise_multiplier), rounds))
    return float(accountant.get_epsilon(delta))
