"""The efficiency benchmark: `python packages/sharedllm/benchmarks/run_efficiency.py` (make bench-sharedllm).

SharedLLM vs its base model with full attention and vs the base truncated to its window: time and memory
(with weights) of one forward pass per total length; results.json, results.md and efficiency.png in --out.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness is not an installed package

from efficiency_bench.cli import app  # noqa: E402

if __name__ == "__main__":
    app()
