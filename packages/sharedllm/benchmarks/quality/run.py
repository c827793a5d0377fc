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


def main(
    out: Path = typer.Option(Path("runs/sharedllm-quality"), help="Output folder (stages cached here)."),
    fresh: bool = typer.Option(False, help="Delete --out first and run every stage."),
    smoke: bool = typer.Option(
        False, help="Toy sizes: checks the pipeline in seconds; numbers mean nothing."
    ),
    base_steps: int | None = typer.Option(None),
    shared_steps: int | None = typer.Option(None),
    eval_docs: int | None = typer.Option(None),
    threads: int | None = typer.Option(
        None, help="torch threads (1 is fastest when other jobs share the CPU)."
    ),
) -> None:
    if fresh and out.exists():
        shutil.rmtree(out)
    cfg = QualityConfig.smoke(out) if smoke else QualityConfig(out=out)
    overrides = {
        "base_steps": base_steps,
        "shared_steps": shared_steps,
        "eval_docs": eval_docs,
        "threads": threads,
    }
    for name, value in overrides.items():
        if value is not None:
            setattr(cfg, name, value)
    run_quality(cfg)


if __name__ == "__main__":
    typer.run(main)
