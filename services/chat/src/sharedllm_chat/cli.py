"""`sharedllm-chat`: serve the chat API (the benchmark lives in services/chat/benchmarks)."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from sharedllm_chat.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()


@app.callback()
def main() -> None:
    """A group even with one command, so that `sharedllm-chat serve` stays the way to start it."""


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


if __name__ == "__main__":
    app()
