"""The chat benchmark harness (`run.py` beside it): time to first token over the turns of a growing chat.

Three ways to serve the same scripted chat (identical histories, so the numbers compare):
- `cache`:   SharedLLM, the conversation's ContextCache reused: each turn encodes only its new chunks;
- `nocache`: SharedLLM, a fresh ContextCache per turn: every chunk of the history is encoded again;
- `base`:    the base model alone, full attention over the whole history (while it fits `base_max_tokens`).
TTFT = chat-template rendering + tokenization + queueing + context encoding + prefill + first sample,
measured through the service's own scheduler.
"""

from __future__ import annotations

import json
import queue
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import torch
from tqdm import tqdm

from sharedllm_chat.engine.context_store import ContextStore
from sharedllm_chat.engine.events import Done, Failed
from sharedllm_chat.engine.loader import LoadedModel, wrap_model
from sharedllm_chat.engine.prompt import render_ids
from sharedllm_chat.engine.sampling import SamplingParams
from sharedllm_chat.engine.scheduler import GenerationRequest, Scheduler
from sharedllm_chat.engine.tokenizer import build_byte_tokenizer
from sharedllm_chat.settings import Settings

VARIANTS = ("cache", "nocache", "base")
_WORDS = [
    "the",
    "model",
    "reads",
    "a",
    "long",
    "chat",
    "and",
    "keeps",
    "its",
    "past",
    "as",
    "chunks",
    "of",
    "context",
    "for",
    "the",
    "lower",
    "layers",
    "while",
    "the",
    "upper",
    "layers",
    "attend",
    "to",
    "the",
    "recent",
    "turns",
    "and",
    "answer",
]


@dataclass
class BenchConfig:
    turns: int = 10
    user_chars: int = 4000  # one token per byte with the byte-level tokenizer
    reply_chars: int = 200
    hidden_size: int = 256
    layers: int = 8
    num_injection_layers: int = 2
    chunk_size: int = 1024
    kv_per_node: int = 32
    upper_window: int = 2048
    base_max_tokens: int = 16_384
    repeats: int = 1
    seed: int = 0
    clients: int = 4  # concurrent requests for the decode-throughput part
    decode_tokens: int = 64


@dataclass
class TurnResult:
    variant: str
    turn: int
    history_tokens: int
    ttft_s: float | None
    ttft_cpu_s: float | None  # CPU time of the work (meaningful with --threads 1 on a shared machine)
    chunks_encoded: int
    context_chunks: int
    cache_bytes: int
    rss_mb: float


def scripted_chat(cfg: BenchConfig) -> list[list[dict]]:
    """The message lists sent at turns 1..N (each turn: a long user message; replies are scripted too)."""
    rng = random.Random(cfg.seed)

    def text(n: int) -> str:
        out = " ".join(rng.choice(_WORDS) for _ in range(n // 4 + 1))
        return out[:n]

    messages: list[dict] = [{"role": "system", "content": "You are a helpful assistant."}]
    turns = []
    for _ in range(cfg.turns):
        messages.append({"role": "user", "content": text(cfg.user_chars)})
        turns.append(list(messages))
        messages.append({"role": "assistant", "content": text(cfg.reply_chars)})
    return turns


def build_models(cfg: BenchConfig) -> tuple[LoadedModel, LoadedModel]:
    from sharedllm import SharedLLMForCausalLM
    from sharedllm.tiny import tiny_base_model

    tokenizer = build_byte_tokenizer()
    base = tiny_base_model(
        "llama",
        seed=cfg.seed,
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=2 * cfg.hidden_size,
        num_hidden_layers=cfg.layers,
        max_position_embeddings=1 << 20,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    shared = SharedLLMForCausalLM.from_base(
        base,
        num_injection_layers=cfg.num_injection_layers,
        chunk_size=cfg.chunk_size,
        kv_per_node=cfg.kv_per_node,
        upper_window=cfg.upper_window,
    )
    settings = Settings(served_model_name="bench")
    return wrap_model(shared, tokenizer, settings), wrap_model(base, tokenizer, settings)


def _first_token(
    scheduler: Scheduler, loaded: LoadedModel, messages: list[dict], conversation_id: str, use_cache: bool
) -> tuple[float, float, int, Done]:
    """(TTFT wall seconds, TTFT CPU seconds, prompt tokens, the request's Done)."""
    events: queue.Queue = queue.Queue()
    start, cpu_start = time.perf_counter(), time.thread_time()
    ids = render_ids(loaded.tokenizer, messages)
    rendered, rendered_cpu = time.perf_counter() - start, time.thread_time() - cpu_start
    req = GenerationRequest(
        ids,
        SamplingParams(max_new_tokens=1, temperature=0.0),
        emit=events.put,
        conversation_id=conversation_id,
        use_context_cache=use_cache,
    )
    scheduler.submit(req)
    while True:
        event = events.get()
        if isinstance(event, Failed):
            raise RuntimeError(event.message)
        if isinstance(event, Done):
            return rendered + event.ttft_s, rendered_cpu + event.ttft_cpu_s, len(ids), event


def run_variant(
    variant: str, loaded: LoadedModel, chat: list[list[dict]], cfg: BenchConfig, repeat: int
) -> list[TurnResult]:
    store = ContextStore(loaded.sharedllm, max_bytes=2**34)
    scheduler = Scheduler(loaded, store, max_active=1, max_queue=4)
    scheduler.start()
    process = psutil.Process()
    results = []
    try:
        # Warm up on a throwaway conversation the size of turn 1 (first calls pay one-off setup costs).
        _first_token(scheduler, loaded, chat[0], "warmup", True)
        for turn, messages in enumerate(tqdm(chat, desc=f"{variant} (run {repeat + 1})", leave=False), 1):
            n_tokens = len(render_ids(loaded.tokenizer, messages))
            rss = process.memory_info().rss / 2**20
            if variant == "base" and n_tokens > cfg.base_max_tokens:
                results.append(TurnResult(variant, turn, n_tokens, None, None, 0, 0, 0, rss))
                continue
            ttft, ttft_cpu, n_tokens, done = _first_token(
                scheduler, loaded, messages, f"chat-{repeat}", use_cache=variant == "cache"
            )
            rss = process.memory_info().rss / 2**20
            results.append(
                TurnResult(
                    variant,
                    turn,
                    n_tokens,
                    ttft,
                    ttft_cpu,
                    done.chunks_encoded,
                    done.context_chunks,
                    store.nbytes(),
                    rss,
                )
            )
    finally:
        scheduler.stop()
    return results


def decode_throughput(
    loaded: LoadedModel, batch: bool, clients: int, new_tokens: int, seed: int
) -> tuple[float, float]:
    """Tokens per wall second and per CPU second (this process) of `clients` requests generating at once
    (short prompts: decode-bound), batched or not."""
    store = ContextStore(loaded.sharedllm, max_bytes=2**30)
    scheduler = Scheduler(loaded, store, max_active=clients, max_queue=2 * clients, batch_decode=batch)
    scheduler.start()
    rng = random.Random(seed)
    try:
        inboxes = []
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(clients):
            inbox: queue.Queue = queue.Queue()
            prompt = [{"role": "user", "content": " ".join(rng.choice(_WORDS) for _ in range(30))}]
            params = SamplingParams(max_new_tokens=new_tokens, temperature=1.0, seed=seed + i)
            scheduler.submit(GenerationRequest(render_ids(loaded.tokenizer, prompt), params, emit=inbox.put))
            inboxes.append(inbox)
        generated = 0
        for inbox in inboxes:
            while not isinstance(event := inbox.get(), Done | Failed):
                pass
            if isinstance(event, Failed):
                raise RuntimeError(event.message)
            generated += event.completion_tokens
        return generated / (time.perf_counter() - start), generated / (time.process_time() - cpu_start)
    finally:
        scheduler.stop()


def median_runs(runs: list[list[TurnResult]]) -> list[TurnResult]:
    merged = []
    for per_turn in zip(*runs, strict=True):
        row = asdict(per_turn[0])
        for key in ("ttft_s", "ttft_cpu_s"):
            values = [getattr(r, key) for r in per_turn if getattr(r, key) is not None]
            row[key] = statistics.median(values) if values else None
        merged.append(TurnResult(**row))
    return merged


def run_bench(cfg: BenchConfig, out_dir: Path, variants: tuple[str, ...] = VARIANTS) -> dict:
    torch.manual_seed(cfg.seed)
    shared, base = build_models(cfg)
    chat = scripted_chat(cfg)
    results: dict[str, list[TurnResult]] = {}
    with torch.inference_mode():
        for variant in variants:
            loaded = base if variant == "base" else shared
            runs = [run_variant(variant, loaded, chat, cfg, r) for r in range(cfg.repeats)]
            results[variant] = median_runs(runs)
        # Continuous batching: decode throughput of concurrent requests, batched vs one by one.
        throughput = {}
        for mode in ("batched", "one_by_one"):
            runs = [
                decode_throughput(shared, mode == "batched", cfg.clients, cfg.decode_tokens, cfg.seed + r)
                for r in range(cfg.repeats)
            ]
            throughput[f"{mode}_tokens_per_s"] = statistics.median(wall for wall, _ in runs)
            throughput[f"{mode}_tokens_per_cpu_s"] = statistics.median(cpu for _, cpu in runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "config": asdict(cfg),
        "threads": torch.get_num_threads(),
        "decode_throughput": throughput,
        "results": {v: [asdict(r) for r in rs] for v, rs in results.items()},
    }
    (out_dir / "bench_chat.json").write_text(json.dumps(report, indent=2))
    table = markdown_table(results)
    table += (
        f"\nDecode throughput, {cfg.clients} concurrent requests x {cfg.decode_tokens} tokens: "
        f"{throughput['batched_tokens_per_s']:.1f} tokens/s batched vs "
        f"{throughput['one_by_one_tokens_per_s']:.1f} one by one "
        f"({throughput['batched_tokens_per_s'] / throughput['one_by_one_tokens_per_s']:.2f}x); per CPU s "
        f"{throughput['batched_tokens_per_cpu_s']:.1f} vs {throughput['one_by_one_tokens_per_cpu_s']:.1f} "
        f"({throughput['batched_tokens_per_cpu_s'] / throughput['one_by_one_tokens_per_cpu_s']:.2f}x).\n"
    )
    (out_dir / "bench_chat.md").write_text(table)
    plot(results, cfg, out_dir / "bench_chat.png")
    return report


def markdown_table(results: dict[str, list[TurnResult]]) -> str:
    variants = list(results)
    head = ["turn", "history tokens"]
    head += [f"TTFT {v} (s)" for v in variants] + [f"CPU {v} (s)" for v in variants]
    head += [f"chunks encoded ({v})" for v in ("cache", "nocache") if v in results]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(t: float | None) -> str:
        return "n/a" if t is None else f"{t:.3f}"

    for i, r in enumerate(results[variants[0]]):
        cells = [str(r.turn), str(r.history_tokens)]
        cells += [cell(results[v][i].ttft_s) for v in variants]
        cells += [cell(results[v][i].ttft_cpu_s) for v in variants]
        cells += [str(results[v][i].chunks_encoded) for v in ("cache", "nocache") if v in results]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for v in ("cache", "nocache"):
        if v not in results:
            continue
        rows = results[v]
        last, first = rows[-1], rows[0]
        worst = max(rows[1:], key=lambda r: r.ttft_s / first.ttft_s, default=last)
        worst_cpu = max(rows[1:], key=lambda r: r.ttft_cpu_s / first.ttft_cpu_s, default=last)
        lines.append(
            f"- {v}: TTFT at turn {last.turn} ({last.history_tokens} tokens of history) is "
            f"{last.ttft_s / first.ttft_s:.2f}x turn 1's "
            f"(CPU time {last.ttft_cpu_s / first.ttft_cpu_s:.2f}x); "
            f"the worst turn is {worst.ttft_s / first.ttft_s:.2f}x (turn {worst.turn}), "
            f"{worst_cpu.ttft_cpu_s / first.ttft_cpu_s:.2f}x in CPU time (turn {worst_cpu.turn})."
        )
    if "nocache" in results and "cache" in results:
        c, n = results["cache"][-1], results["nocache"][-1]
        lines.append(
            f"- at turn {c.turn} the cache answers {n.ttft_s / c.ttft_s:.1f}x sooner than re-encoding "
            f"(CPU time {n.ttft_cpu_s / c.ttft_cpu_s:.1f}x less)."
        )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, list[TurnResult]], cfg: BenchConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {
        "cache": "SharedLLM + per-conversation ContextCache",
        "nocache": "SharedLLM, chunks re-encoded",
        "base": "base model, full attention",
    }
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, key, title in ((axes[0], "ttft_s", "wall clock"), (axes[1], "ttft_cpu_s", "CPU time")):
        for variant, rows in results.items():
            pts = [(r.history_tokens / 1000, getattr(r, key)) for r in rows if getattr(r, key) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=labels.get(variant, variant))
        ax.set_xlabel("history length at the turn (K tokens)")
        ax.set_ylabel("time to first token (s)")
        ax.set_yscale("log")
        ax.set_title(f"TTFT per turn, {title}")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend()
    fig.suptitle(
        f"Growing chat, {cfg.turns} turns of ~{cfg.user_chars} tokens (CPU, {torch.get_num_threads()} "
        f"torch threads, median of {cfg.repeats})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
