"""The chat benchmark: `python services/chat/benchmarks/run.py` (what `make bench-chat` runs).

Time to first token for turns 1..N of a growing chat: the conversation's ContextCache reused, a fresh cache
per turn, and the base model with full attention. Writes bench_chat.json, .md and .png into --out.
Needs `benchmarks/requirements.txt` next to an installed `sharedllm-chat`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness is not an installed package

from chat_bench import VARIANTS, BenchConfig, run_bench  # noqa: E402


def variant_list(text: str) -> tuple[str, ...]:
    chosen = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    return chosen


def positive(kind):
    def parse(text: str):
        value = kind(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = BenchConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/bench-chat"), help="JSON, table and PNG go here")
    p.add_argument("--variants", type=variant_list, default=VARIANTS, help="comma list: cache,nocache,base")
    p.add_argument("--turns", type=positive(int), default=d.turns)
    p.add_argument("--user-chars", type=positive(int), default=d.user_chars,
                   help="tokens each user turn adds (byte-level tokenizer)")
    p.add_argument("--base-max-tokens", type=int, default=d.base_max_tokens,
                   help="longest history the full-attention base runs")
    p.add_argument("--repeats", type=positive(int), default=d.repeats, help="runs per variant (median)")
    p.add_argument("--hidden-size", type=positive(int), default=d.hidden_size)
    p.add_argument("--layers", type=positive(int), default=d.layers)
    p.add_argument("--num-injection-layers", type=positive(int), default=d.num_injection_layers)
    p.add_argument("--chunk-size", type=positive(int), default=d.chunk_size)
    p.add_argument("--upper-window", type=positive(int), default=d.upper_window)
    p.add_argument("--threads", type=positive(int), default=None, help="torch threads (default: torch's)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    cfg = BenchConfig(turns=a.turns, user_chars=a.user_chars, base_max_tokens=a.base_max_tokens,
                      repeats=a.repeats, hidden_size=a.hidden_size, layers=a.layers,
                      num_injection_layers=a.num_injection_layers, chunk_size=a.chunk_size,
                      upper_window=a.upper_window)
    run_bench(cfg, a.out, a.variants)
    print((a.out / "bench_chat.md").read_text())
    print(f"wrote {a.out / 'bench_chat.json'}, {a.out / 'bench_chat.md'}, {a.out / 'bench_chat.png'}")


if __name__ == "__main__":
    main()
