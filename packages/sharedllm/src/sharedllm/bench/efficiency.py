"""Forward-pass time and peak memory of SharedLLM vs its base model (full attention) across total lengths.

Both sides run the same weights: the base rows are the SharedLLM's upper model given the whole sequence with
no context (its injection blocks are skipped), so the comparison isolates the architecture. A SharedLLM run
splits a length T into complete chunks for the lower model and the remaining last tokens (at most the
upper window) for the upper model. Only the last position's logits are computed on either side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from sharedllm.bench.measure import measured
from sharedllm.bench.shapes import BenchShape
from sharedllm.config import SharedLLMConfig
from sharedllm.model import SharedLLMForCausalLM


@dataclass
class Row:
    model: str  # "sharedllm" or "base"
    length: int
    status: str  # "ok", "oom" or "skipped"
    chunks: int = 0
    upper_tokens: int = 0
    prefill_seconds: float | None = None  # wall clock
    prefill_cpu_seconds: float | None = None  # this process's CPU time: steadier when others load the machine
    prefill_tokens_per_s: float | None = None
    peak_mib: float | None = None
    decode_tokens_per_s: float | None = None
    decode_status: str = ""  # "oom" when the prefill fit but the cache for decoding did not


def build_model(shape: BenchShape, device: torch.device, dtype: torch.dtype, attn: str, seed: int = 0):
    torch.manual_seed(seed)
    config = SharedLLMConfig(base_config=shape.base_config(), **shape.sharedllm)
    with torch.device(device):
        model = SharedLLMForCausalLM._from_config(config, dtype=dtype, attn_implementation=attn)
    return model.eval()


def split_length(length: int, config: SharedLLMConfig) -> tuple[int, int]:
    """(chunks, upper tokens): complete chunks for the lower model, the rest (>= the window) for the upper."""
    chunks = max(length - config.upper_window, 0) // config.chunk_size
    return chunks, length - chunks * config.chunk_size


@torch.no_grad()
def run_once(
    model: SharedLLMForCausalLM, kind: str, tokens: torch.Tensor, decode_tokens: int, repeats: int = 1
) -> Row:
    """One prefill forward pass (no cache: the pure forward cost), then, when asked, a prefill with cache
    and `decode_tokens` single-token steps, timed apart. A decode running out of memory keeps the prefill."""
    length = tokens.shape[1]
    chunks, upper = split_length(length, model.config) if kind == "sharedllm" else (0, length)
    context = tokens[:, : chunks * model.config.chunk_size].view(1, chunks, -1) if chunks else None
    ids = tokens[:, chunks * model.config.chunk_size :]
    forward = model if kind == "sharedllm" else model.upper
    extra = {"context_input_ids": context} if kind == "sharedllm" else {}
    runs = []
    for _ in range(repeats):  # the fastest run is the least disturbed by other work on the machine
        with measured(tokens.device) as result:
            forward(ids, use_cache=False, logits_to_keep=1, **extra)
        runs.append(result["measurement"])
    fastest = min(runs, key=lambda m: m.seconds)
    row = Row(
        kind,
        length,
        "ok",
        chunks=chunks,
        upper_tokens=upper,
        prefill_seconds=fastest.seconds,
        prefill_cpu_seconds=min(m.cpu_seconds for m in runs),
        prefill_tokens_per_s=length / fastest.seconds,
        peak_mib=max(m.peak_bytes for m in runs) / 2**20,
    )
    if decode_tokens > 0:
        try:
            out = forward(ids, use_cache=True, logits_to_keep=1, **extra)
            row.decode_tokens_per_s = _decode(forward, kind, out, decode_tokens, tokens.device)
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not _is_oom(error):
                raise
            row.decode_status = "oom"
            _release(tokens.device)
    return row


def _decode(forward, kind: str, out, steps: int, device: torch.device) -> float:
    step_kwargs = {"injected_context": out.injected_context} if kind == "sharedllm" else {}
    with measured(device) as result:
        for _ in range(steps):
            next_token = out.logits[:, -1:].argmax(-1)
            out = forward(next_token, cache=out.cache, use_cache=True, **step_kwargs)
    return steps / result["measurement"].seconds


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def run_benchmark(
    shape: BenchShape,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    lengths: tuple[int, ...] | None = None,
    decode_tokens: int = 0,
    max_base_length: int | None = None,
    attn: str = "sdpa",
    console: Console | None = None,
    repeats: int = 1,
) -> list[Row]:
    """Measure both models at each length; a length that runs out of memory is recorded as "oom"."""
    console = console or Console()
    device_ = torch.device(device)
    model = build_model(shape, device_, dtype, attn)
    lengths = tuple(lengths or shape.lengths)
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.base_config.vocab_size
    warm = torch.randint(
        3, vocab, (1, model.config.upper_window + model.config.chunk_size), generator=generator
    )
    for kind in ("sharedllm", "base"):
        run_once(model, kind, warm.to(device_), decode_tokens=min(decode_tokens, 2))

    rows: list[Row] = []
    oom = {"sharedllm": False, "base": False}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{shape.name} on {device}", total=2 * len(lengths))
        for length in lengths:
            tokens = torch.randint(3, vocab, (1, length), generator=generator).to(device_)
            for kind in ("sharedllm", "base"):
                progress.update(task, description=f"{kind} at {length:,} tokens")
                if oom[kind] or (kind == "base" and max_base_length and length > max_base_length):
                    rows.append(Row(kind, length, "oom" if oom[kind] else "skipped"))
                else:
                    rows.append(_guarded(model, kind, tokens, decode_tokens, oom, device_, repeats))
                progress.advance(task)
            del tokens
    return rows


def _guarded(model, kind, tokens, decode_tokens, oom, device, repeats) -> Row:
    try:
        return run_once(model, kind, tokens, decode_tokens, repeats)
    except (torch.OutOfMemoryError, RuntimeError) as error:
        if not _is_oom(error):
            raise
        oom[kind] = True  # longer lengths will not fit either
        _release(device)
        return Row(kind, tokens.shape[1], "oom")


def summarize(rows: list[Row]) -> dict:
    """The ratios the issue asks about, where both sides were measured."""
    by = {(r.model, r.length): r for r in rows if r.status == "ok"}
    summary: dict = {"longest_ok": {}}
    for kind in ("sharedllm", "base"):
        ok = [r.length for r in rows if r.model == kind and r.status == "ok"]
        summary["longest_ok"][kind] = max(ok) if ok else None
    ratios = []
    for (kind, length), row in sorted(by.items(), key=lambda item: item[0][1]):
        if kind == "sharedllm" and ("base", length) in by:
            base = by[("base", length)]
            ratios.append(
                {
                    "length": length,
                    "time_ratio": row.prefill_seconds / base.prefill_seconds,
                    "cpu_time_ratio": row.prefill_cpu_seconds / base.prefill_cpu_seconds,
                    "memory_ratio": row.peak_mib / base.peak_mib if base.peak_mib else None,
                }
            )
    summary["sharedllm_vs_base"] = ratios
    shared = {r.length: r for r in rows if r.model == "sharedllm" and r.status == "ok"}
    summary["sharedllm_time_growth"] = [
        {
            "from": a,
            "to": b,
            "ratio": shared[b].prefill_seconds / shared[a].prefill_seconds,
            "cpu_ratio": shared[b].prefill_cpu_seconds / shared[a].prefill_cpu_seconds,
        }
        for a, b in zip(sorted(shared), sorted(shared)[1:], strict=False)
    ]
    return summary


def render_table(rows: list[Row]) -> Table:
    table = Table(title="SharedLLM vs base (full attention): one forward pass")
    for column in (
        "model",
        "tokens",
        "chunks",
        "upper",
        "status",
        "seconds",
        "cpu s",
        "prefill tok/s",
        "peak MiB",
        "decode tok/s",
    ):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r.model,
            f"{r.length:,}",
            str(r.chunks),
            f"{r.upper_tokens:,}",
            r.status,
            _fmt(r.prefill_seconds, ".3f"),
            _fmt(r.prefill_cpu_seconds, ".3f"),
            _fmt(r.prefill_tokens_per_s, ",.0f"),
            _fmt(r.peak_mib, ",.1f"),
            r.decode_status or _fmt(r.decode_tokens_per_s, ",.1f"),
        )
    return table


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| model | tokens | chunks | upper | status | seconds | cpu s | prefill tok/s | peak MiB "
        "| decode tok/s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.length:,} | {r.chunks} | {r.upper_tokens:,} | {r.status} | "
            f"{_fmt(r.prefill_seconds, '.3f')} | {_fmt(r.prefill_cpu_seconds, '.3f')} | "
            f"{_fmt(r.prefill_tokens_per_s, ',.0f')} | "
            f"{_fmt(r.peak_mib, ',.1f')} | {r.decode_status or _fmt(r.decode_tokens_per_s, ',.1f')} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def write_report(rows: list[Row], meta: dict, out_dir: Path) -> dict:
    from sharedllm.bench.plot import plot_rows

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    report = {"meta": meta, "rows": [asdict(r) for r in rows], "summary": summary}
    (out_dir / "results.json").write_text(json.dumps(report, indent=2))
    (out_dir / "results.md").write_text(markdown_table(rows))
    plot_rows(
        rows, out_dir / "efficiency.png", title=f"{meta['shape']} on {meta['device']} ({meta['dtype']})"
    )
    return report
