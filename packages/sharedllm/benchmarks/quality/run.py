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
from sharedllm.settings import apply_overrides, load_settings_file


def main(
    out: Path = typer.Option(Path("runs/sharedllm-quality"), help="Output folder (stages cached here)."),
    fresh: bool = typer.Option(False, help="Delete --out first and run every stage."),
    smoke: bool = typer.Option(
        False, help="Toy sizes: checks the pipeline in seconds; numbers mean nothing."
    ),
    threads: int | None = typer.Option(
        None, help="torch threads (1 is fastest when other jobs share the CPU)."
    ),
    config: Path | None = typer.Option(None, "--config", help="A TOML or JSON file of QualityConfig values."),
    settings: list[str] = typer.Option(
        [], "--set", help="Override a QualityConfig field: --set base_steps=600 --set base.window=256"
    ),
) -> None:
    if fresh and out.exists():
        shutil.rmtree(out)
    cfg = QualityConfig.smoke(out) if smoke else QualityConfig(out=out)
    cfg.threads = threads
    try:
        if config is not None:
            load_settings_file(cfg, config)
        apply_overrides(cfg, settings)
        if cfg.out != out:
            raise ValueError("set the output folder with --out")
        run_quality(cfg)
    except (ValueError, FileNotFoundError) as err:  # bad settings, a missing corpus, a stale --out
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":
    typer.run(main)
