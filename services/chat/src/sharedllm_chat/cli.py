"""`sharedllm-chat`: serve the chat API, or benchmark time to first token over a growing chat."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from sharedllm_chat.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


@app.command()
def serve(
    host: str | None = typer.Option(None, help="default: settings (SHAREDLLM_CHAT_HOST, 127.0.0.1)"),
    port: int | None = typer.Option(None, help="default: settings (SHAREDLLM_CHAT_PORT, 8000)"),
    model_path: str | None = typer.Option(None, help="a SharedLLM checkpoint (from_pretrained)"),
    base_model: str | None = typer.Option(None, help="a Llama-family checkpoint to wrap (from_base)"),
    served_model_name: str | None = typer.Option(None, help="the model id clients ask for"),
    log_level: str = typer.Option("INFO", help="JSON logs at this level"),
) -> None:
    """Start the server. With no model given, a tiny random SharedLLM is made on the spot."""
    import uvicorn

    from sharedllm_chat.log_format import configure_logging
    from sharedllm_chat.main import create_app

    overrides = {
        k: v
        for k, v in dict(
            host=host,
            port=port,
            model_path=model_path,
            base_model=base_model,
            served_model_name=served_model_name,
        ).items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"[red]setting {'.'.join(map(str, err['loc'])) or '-'}: {err['msg']}[/red]")
        raise typer.Exit(2) from None
    try:
        app = create_app(settings)
    except ValueError as exc:  # unusable API keys: named, not a traceback
        console.print(f"[red]setting {exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"serving [bold]{settings.served_model_name}[/bold] on http://{settings.host}:{settings.port}/v1"
    )
    configure_logging(log_level.upper())
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)


@app.command()
def bench(
    out: Path = typer.Option(Path("runs/bench-chat"), help="where the JSON, table and PNG go"),
    turns: int = typer.Option(10, min=2),
    user_chars: int = typer.Option(4000, min=1, help="tokens each user turn adds (byte-level tokenizer)"),
    base_max_tokens: int = typer.Option(16_384, min=0, help="longest history the full-attention base runs"),
    repeats: int = typer.Option(1, min=1, help="runs per variant; the median per turn is reported"),
    variants: str = typer.Option("cache,nocache,base", help="comma-separated: cache, nocache, base"),
    hidden_size: int = typer.Option(256, min=16),
    layers: int = typer.Option(8, min=1),
    num_injection_layers: int = typer.Option(2, min=1),
    chunk_size: int = typer.Option(1024, min=64),
    upper_window: int = typer.Option(2048, min=64),
    threads: int | None = typer.Option(None, min=1, help="torch threads (default: torch's choice)"),
) -> None:
    """Time to first token for turns 1..N of a growing chat: cache vs no cache vs full attention."""
    from sharedllm_chat.bench import VARIANTS, BenchConfig, run_bench

    chosen = tuple(v.strip() for v in variants.split(",") if v.strip())
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise typer.BadParameter(
            f"unknown variants {unknown}; choose from {list(VARIANTS)}", param_hint="variants"
        )
    if threads:
        import torch

        torch.set_num_threads(threads)
    cfg = BenchConfig(
        turns=turns,
        user_chars=user_chars,
        base_max_tokens=base_max_tokens,
        repeats=repeats,
        hidden_size=hidden_size,
        layers=layers,
        num_injection_layers=num_injection_layers,
        chunk_size=chunk_size,
        upper_window=upper_window,
    )
    run_bench(cfg, out, chosen)
    console.print((out / "bench_chat.md").read_text())
    console.print(f"wrote {out / 'bench_chat.json'}, {out / 'bench_chat.md'}, {out / 'bench_chat.png'}")


if __name__ == "__main__":
    app()
