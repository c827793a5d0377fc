"""What a generation hands back to the request that asked for it, in order: Token*, then Done or Failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Done:
    finish_reason: Literal["stop", "length", "cancelled"]
    prompt_tokens: int
    completion_tokens: int
    context_chunks: int  # chunks the lower model supplied for this turn
    chunks_encoded: int  # of which encoded for this turn (the rest came from the conversation's cache)
    queue_s: float
    ttft_s: float | None  # submit -> first token sampled
    # Worker-thread CPU time from admission to the first token: with one torch thread all the model's work
    # runs on that thread, so this is TTFT without the noise of other processes sharing the machine.
    ttft_cpu_s: float | None = None


@dataclass(frozen=True)
class Failed:
    message: str


Event = Token | Done | Failed
