"""`python packages/sharedllm/benchmarks/run_efficiency.py`: time and memory of one forward pass, SharedLLM
vs its base model with full attention and vs the base truncated to its window (`make bench-sharedllm`)."""

from __future__ import annotations

from pathlib import Path

import torch
import typer
from rich.console import Console

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

app = typer.Typer(add_completion=False)


@app.command()
def bench(
    config: str = typer.Option("small", help="model shape: tiny, small (CPU) or 7b-shape (one 80 GB GPU)"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    dtype: str = typer.Option(
        "", help="float32, bfloat16 or float16 (default: float32 on CPU, bf16 on CUDA)"
    ),
    lengths: str = typer.Option(
        "", help="comma-separated total lengths, e.g. 4096,8192 (default: the shape's)"
    ),
    decode_tokens: int = typer.Option(
        -1, help="tokens decoded after prefill to time decoding (default: 0 on CPU, 32 on CUDA)"
    ),
    max_base_length: int = typer.Option(
        0, help="skip the full-attention base above this length (0: no limit)"
    ),
    repeats: int = typer.Option(1, help="prefill runs per model and length; the fastest is reported"),
    threads: int = typer.Option(
        0, help="torch CPU threads (0: torch's default); 1 is steadier on a busy machine"
    ),
    attn: str = typer.Option("sdpa", help="attention implementation: sdpa, eager, flash_attention_2"),
    out: Path = typer.Option(Path("packages/sharedllm/benchmarks/efficiency"), help="output folder"),
) -> None:
    """Time and memory of one forward pass: SharedLLM, its base with full attention, the base truncated."""
    from efficiency_bench.efficiency import render_table, run_benchmark, write_report
    from efficiency_bench.measure import cpu_peak_supported
    from efficiency_bench.shapes import SHAPES

    console = Console()
    if config not in SHAPES:
        raise typer.BadParameter(
            f"unknown shape {config!r}; choose from {sorted(SHAPES)}", param_hint="--config"
        )
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise typer.BadParameter("device must be cpu or cuda[:N]", param_hint="--device")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise typer.BadParameter("CUDA is not available on this machine", param_hint="--device")
    if device == "cpu" and not cpu_peak_supported():
        raise typer.BadParameter("CPU peak memory needs Linux /proc (VmHWM)", param_hint="--device")
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    if dtype not in DTYPES:
        raise typer.BadParameter(f"dtype must be one of {sorted(DTYPES)}", param_hint="--dtype")
    try:
        sweep = tuple(int(x) for x in lengths.split(",") if x.strip()) or None
    except ValueError:
        raise typer.BadParameter("lengths must be comma-separated integers", param_hint="--lengths") from None
    if sweep and min(sweep) <= 0:
        raise typer.BadParameter("lengths must be positive", param_hint="--lengths")
    if repeats < 1:
        raise typer.BadParameter("repeats must be >= 1", param_hint="--repeats")
    if threads < 0:
        raise typer.BadParameter("threads must be >= 0", param_hint="--threads")
    if threads:
        torch.set_num_threads(threads)
    decode = decode_tokens if decode_tokens >= 0 else (32 if device.startswith("cuda") else 0)

    shape = SHAPES[config]
    rows = run_benchmark(
        shape, device, DTYPES[dtype], sweep, decode, max_base_length or None, attn, console, repeats
    )
    meta = {
        "shape": config,
        "device": device,
        "dtype": dtype,
        "attn": attn,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
        "sharedllm": shape.sharedllm,
        "base": shape.base,
    }
    report = write_report(rows, meta, out)
    console.print(render_table(rows))
    for against in ("base", "truncated"):
        for ratio in report["summary"][f"sharedllm_vs_{against}"]:
            memory = ratio["memory_ratio"]
            console.print(
                f"{ratio['length']:>7,} tokens: SharedLLM/{against} time {ratio['time_ratio']:.2f}x "
                f"(CPU time {ratio['cpu_time_ratio']:.2f}x), peak memory "
                f"{'-' if memory is None else f'{memory:.2f}x'}, with weights "
                f"{ratio['memory_with_weights_ratio']:.2f}x"
            )
    for growth in report["summary"]["sharedllm_time_growth"]:
        console.print(
            f"SharedLLM time {growth['from']:,} -> {growth['to']:,}: {growth['ratio']:.2f}x "
            f"(CPU time {growth['cpu_ratio']:.2f}x)"
        )
    console.print(f"longest length that ran: {report['summary']['longest_ok']}")
    console.print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {out / 'efficiency.png'}")
