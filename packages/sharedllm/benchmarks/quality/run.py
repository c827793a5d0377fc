"""The measured gain of SharedLLM over its base model, offline on CPU (`make bench-sharedllm-quality`).

Stages (each cached in --out): BPE tokenizer + tokenized corpus of installed Python sources, a small
Llama pretrained from scratch, SharedLLM continually trained from it, perplexity on held-out packages at
4K/8K/16K tokens (table.md, results.json, ppl.png, loss curves in base/ and sharedllm/).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from sharedllm.evaluation.quality import QualityConfig, run_quality


def _apply(cfg: QualityConfig, assignment: str) -> None:
    """--set key=value for any QualityConfig field (numbers, tuples as 1,2,3, corpus_root as a folder)."""
    key, _, raw = assignment.partition("=")
    if not hasattr(cfg, key) or key in ("out", "base"):
        raise typer.BadParameter(f"unknown setting {key!r}", param_hint="--set")
    current = getattr(cfg, key)
    try:
        if isinstance(current, tuple):
            kind = type(current[0]) if current else int
            value = tuple(kind(v) for v in raw.split(",") if v)
        elif key == "corpus_root":
            value = Path(raw)
        elif current is None:
            value = int(raw)
        else:
            value = type(current)(raw)
    except ValueError:
        raise typer.BadParameter(
            f"{key} needs a value like {current!r}, got {raw!r}", param_hint="--set"
        ) from None
    setattr(cfg, key, value)


def main(
    out: Path = typer.Option(Path("runs/sharedllm-quality"), help="Output folder (stages cached here)."),
    fresh: bool = typer.Option(False, help="Delete --out first and run every stage."),
    smoke: bool = typer.Option(
        False, help="Toy sizes: checks the pipeline in seconds; numbers mean nothing."
    ),
    threads: int | None = typer.Option(
        None, help="torch threads (1 is fastest when other jobs share the CPU)."
    ),
    settings: list[str] = typer.Option(
        [], "--set", help="Override a QualityConfig field: --set base_steps=600"
    ),
) -> None:
    if fresh and out.exists():
        shutil.rmtree(out)
    cfg = QualityConfig.smoke(out) if smoke else QualityConfig(out=out)
    cfg.threads = threads
    for assignment in settings:
        _apply(cfg, assignment)
    try:
        run_quality(cfg)
    except (ValueError, FileNotFoundError) as err:  # bad settings, a missing corpus, a stale --out
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":
    typer.run(main)
