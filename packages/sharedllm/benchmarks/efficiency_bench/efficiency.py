"""Forward-pass time and memory of SharedLLM vs its base model across total lengths.

Three rows per length, all on the same weights:
- `sharedllm`: the serving layout (`sharedllm.layout`): start-anchored chunks for the lower model, the rest
  (at most the upper window) for the upper model.
- `base`: the SharedLLM's upper model given the whole sequence with no context (its injection blocks are
  skipped): full attention.
- `truncated`: the same base on SharedLLM's running text only (the base truncated to its window), the
  baseline that isolates SharedLLM's own cost (the lower model and the cross-attention).
Memory is reported as the peak the forward pass adds and with the weights that row's model needs (the
base rows do not count the cross-attention blocks). Only the last position's logits are computed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from efficiency_bench.measure import measured
from efficiency_bench.shapes import BenchShape
from sharedllm.config import SharedLLMConfig
from sharedllm.layout import num_context_chunks
from sharedllm.model import SharedLLMForCausalLM

KINDS = ("sharedllm", "base", "truncated")


@dataclass
class Row:
    model: str  # one of KINDS
    length: int
    status: str  # "ok", "oom" or "skipped"
    chunks: int = 0
    upper_tokens: int = 0
    prefill_seconds: float | None = None  # wall clock
    prefill_cpu_seconds: float | None = None  # this process's CPU time: steadier when others load the machine
    prefill_tokens_per_s: float | None = None  # total tokens (the length) per second
    peak_mib: float | None = None  # added by the forward pass
    weights_mib: float | None = None  # the weights this row's model needs
    decode_tokens_per_s: float | None = None
    decode_status: str = ""  # "oom" when the prefill fit but the cache for decoding did not

    @property
    def total_mib(self) -> float | None:
        """Peak memory with the weights."""
        return None if self.peak_mib is None else self.peak_mib + self.weights_mib


def build_model(shape: BenchShape, device: torch.device, dtype: torch.dtype, attn: str, seed: int = 0):
    torch.manual_seed(seed)
    config = SharedLLMConfig(base_config=shape.base_config(), **shape.sharedllm)
    with torch.device(device):
        model = SharedLLMForCausalLM._from_config(config, dtype=dtype, attn_implementation=attn)
    return model.eval()


def _bytes(tensors) -> int:
    unique = {t.data_ptr(): t.numel() * t.element_size() for t in tensors}  # shared weights count once
    return sum(unique.values())


def weight_mib(model: SharedLLMForCausalLM) -> dict[str, float]:
    """MiB of weights each row's model needs: SharedLLM all of them (the lower model shares the upper
    model's bottom layers unless a preset separated them), the base rows all but the cross-attention."""
    every = [*model.parameters(), *model.buffers()]
    layers = model.upper_decoder.layers
    cross = [p for idx in model.config.injection_layer_ids for p in layers[idx].cross_attn.parameters()]
    total = _bytes(every) / 2**20
    base = total - _bytes(cross) / 2**20
    return {"sharedllm": total, "base": base, "truncated": base}


def split_length(length: int, config: SharedLLMConfig) -> tuple[int, int]:
    """(chunks, upper tokens) of a prompt of `length` tokens in the serving layout."""
    chunks = num_context_chunks(length, config.chunk_size, config.upper_window)
    return chunks, length - chunks * config.chunk_size


def _inputs(model, kind: str, tokens: torch.Tensor):
    """(the module to run, its input ids, its extra kwargs, chunks, upper tokens) for a row kind."""
    length = tokens.shape[1]
    if kind == "base":
        return model.upper, tokens, {}, 0, length
    chunks, upper = split_length(length, model.config)
    cut = chunks * model.config.chunk_size
    if kind == "truncated":
        return model.upper, tokens[:, cut:], {}, 0, upper
    extra = {"context_input_ids": tokens[:, :cut].view(1, chunks, -1)} if chunks else {}
    return model, tokens[:, cut:], extra, chunks, upper


@torch.no_grad()
def run_once(
    model: SharedLLMForCausalLM,
    kind: str,
    tokens: torch.Tensor,
    decode_tokens: int,
    repeats: int = 1,
    weights: dict[str, float] | None = None,
) -> Row:
    """One prefill forward pass (no cache: the pure forward cost), then, when asked, a prefill with cache
    and `decode_tokens` single-token steps, timed apart. A decode running out of memory keeps the prefill."""
    forward, ids, extra, chunks, upper = _inputs(model, kind, tokens)
    runs = []
    for _ in range(repeats):  # the fastest run is the least disturbed by other work on the machine
        with measured(tokens.device) as result:
            forward(ids, use_cache=False, logits_to_keep=1, **extra)
        runs.append(result["measurement"])
    fastest = min(runs, key=lambda m: m.seconds)
    row = Row(
        kind,
        tokens.shape[1],
        "ok",
        chunks=chunks,
        upper_tokens=upper,
        prefill_seconds=fastest.seconds,
        prefill_cpu_seconds=min(m.cpu_seconds for m in runs),
        prefill_tokens_per_s=tokens.shape[1] / fastest.seconds,
        peak_mib=max(m.peak_bytes for m in runs) / 2**20,
        weights_mib=(weights or weight_mib(model))[kind],
    )
    if decode_tokens > 0:
        try:
            out = forward(ids, use_cache=True, logits_to_keep=1, **extra)
            row.decode_tokens_per_s = _decode(forward, out, decode_tokens, tokens.device)
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not _is_oom(error):
                raise
            row.decode_status = "oom"
            _release(tokens.device)
    return row


def _decode(forward, out, steps: int, device: torch.device) -> float:
    context = getattr(out, "injected_context", None)
    step_kwargs = {"injected_context": context} if context is not None else {}
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
    """Measure every row kind at each length; a length that runs out of memory is recorded as "oom"."""
    console = console or Console()
    device_ = torch.device(device)
    model = build_model(shape, device_, dtype, attn)
    weights = weight_mib(model)
    lengths = tuple(lengths or shape.lengths)
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.base_config.vocab_size
    warm = torch.randint(
        3, vocab, (1, model.config.upper_window + model.config.chunk_size), generator=generator
    )
    for kind in KINDS:
        run_once(model, kind, warm.to(device_), decode_tokens=min(decode_tokens, 2), weights=weights)

    rows: list[Row] = []
    oom = dict.fromkeys(KINDS, False)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{shape.name} on {device}", total=len(KINDS) * len(lengths))
        for length in lengths:
            tokens = torch.randint(3, vocab, (1, length), generator=generator).to(device_)
            for kind in KINDS:
                progress.update(task, description=f"{kind} at {length:,} tokens")
                if oom[kind] or (kind == "base" and max_base_length and length > max_base_length):
                    rows.append(Row(kind, length, "oom" if oom[kind] else "skipped"))
                else:
                    rows.append(_guarded(model, kind, tokens, decode_tokens, oom, device_, repeats, weights))
                progress.advance(task)
            del tokens
    return rows


def _guarded(model, kind, tokens, decode_tokens, oom, device, repeats, weights) -> Row:
    try:
        return run_once(model, kind, tokens, decode_tokens, repeats, weights)
    except (torch.OutOfMemoryError, RuntimeError) as error:
        if not _is_oom(error):
            raise
        oom[kind] = True  # longer lengths will not fit either
        _release(device)
        return Row(kind, tokens.shape[1], "oom")


def _ratios(row: Row, other: Row) -> dict:
    return {
        "time_ratio": row.prefill_seconds / other.prefill_seconds,
        "cpu_time_ratio": row.prefill_cpu_seconds / other.prefill_cpu_seconds,
        "memory_ratio": row.peak_mib / other.peak_mib if other.peak_mib else None,
        "memory_with_weights_ratio": row.total_mib / other.total_mib,
    }


def summarize(rows: list[Row]) -> dict:
    """SharedLLM against each baseline where both were measured, and SharedLLM's growth with length."""
    by = {(r.model, r.length): r for r in rows if r.status == "ok"}
    summary: dict = {"longest_ok": {}}
    for kind in KINDS:
        ok = [r.length for r in rows if r.model == kind and r.status == "ok"]
        summary["longest_ok"][kind] = max(ok) if ok else None
    shared = {length: row for (kind, length), row in by.items() if kind == "sharedllm"}
    for against in ("base", "truncated"):
        summary[f"sharedllm_vs_{against}"] = [
            {"length": length, **_ratios(row, by[(against, length)])}
            for length, row in sorted(shared.items())
            if (against, length) in by
        ]
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


COLUMNS = (
    "model", "tokens", "chunks", "upper", "status", "seconds", "cpu s", "prefill tok/s", "peak MiB",
    "with weights MiB", "decode tok/s",
)  # fmt: skip


def _cells(r: Row) -> list[str]:
    return [
        r.model,
        f"{r.length:,}",
        str(r.chunks),
        f"{r.upper_tokens:,}",
        r.status,
        _fmt(r.prefill_seconds, ".3f"),
        _fmt(r.prefill_cpu_seconds, ".3f"),
        _fmt(r.prefill_tokens_per_s, ",.0f"),
        _fmt(r.peak_mib, ",.1f"),
        _fmt(r.total_mib, ",.1f"),
        r.decode_status or _fmt(r.decode_tokens_per_s, ",.1f"),
    ]


def render_table(rows: list[Row]) -> Table:
    table = Table(title="SharedLLM vs base (full attention) and base truncated to the window")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(*_cells(r))
    return table


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---:|---:|---:|---|" + "---:|" * (len(COLUMNS) - 5)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def write_report(rows: list[Row], meta: dict, out_dir: Path) -> dict:
    from efficiency_bench.plot import plot_rows

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    report = {
        "meta": meta,
        "rows": [{**asdict(r), "total_mib": r.total_mib} for r in rows],
        "summary": summary,
    }
    (out_dir / "results.json").write_text(json.dumps(report, indent=2))
    (out_dir / "results.md").write_text(markdown_table(rows))
    plot_rows(
        rows, out_dir / "efficiency.png", title=f"{meta['shape']} on {meta['device']} ({meta['dtype']})"
    )
    return report
