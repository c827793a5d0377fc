"""Timing and peak memory of one forward pass, on CPU (Linux peak RSS) or CUDA (allocator peak)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

STATUS = Path("/proc/self/status")


@dataclass
class Measurement:
    seconds: float
    peak_bytes: int


def _status_kb(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from {STATUS}")


@contextmanager
def measured(device: torch.device):
    """Yield a dict filled on exit with wall time and the peak memory added during the block."""
    result: dict = {}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start_bytes = torch.cuda.memory_allocated(device)
    else:
        # Linux: writing 5 to clear_refs resets the peak-RSS counter (VmHWM) to the current RSS.
        Path("/proc/self/clear_refs").write_text("5")
        start_bytes = _status_kb("VmRSS")
    start = time.perf_counter()
    yield result
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = _status_kb("VmHWM")
    result["measurement"] = Measurement(time.perf_counter() - start, max(peak - start_bytes, 0))


def cpu_peak_supported() -> bool:
    return STATUS.exists() and Path("/proc/self/clear_refs").exists()
