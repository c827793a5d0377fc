"""Timing and peak memory of one forward pass, on CPU (Linux peak RSS) or CUDA (allocator peak)."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

STATUS = Path("/proc/self/status")
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


LIBC = _libc()
if LIBC is not None and hasattr(LIBC, "mallopt"):
    # A fixed threshold stops glibc from raising it after each large free, so big tensors are always their own
    # mappings and go back to the OS when freed: RSS then tracks live memory and its peak is meaningful.
    LIBC.mallopt(M_MMAP_THRESHOLD, 1 << 20)


@dataclass
class Measurement:
    seconds: float
    cpu_seconds: float
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
        if LIBC is not None and hasattr(LIBC, "malloc_trim"):
            LIBC.malloc_trim(0)  # hand freed heap pages back first, so the start RSS is live memory
        # Linux: writing 5 to clear_refs resets the peak-RSS counter (VmHWM) to the current RSS.
        Path("/proc/self/clear_refs").write_text("5")
        start_bytes = _status_kb("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    yield result
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = _status_kb("VmHWM")
    result["measurement"] = Measurement(
        time.perf_counter() - start, time.process_time() - cpu_start, max(peak - start_bytes, 0)
    )


def cpu_peak_supported() -> bool:
    return STATUS.exists() and Path("/proc/self/clear_refs").exists()
