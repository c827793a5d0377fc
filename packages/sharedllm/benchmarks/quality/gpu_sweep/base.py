"""Base-model sweep: when does the quality bench's tiny Llama learn to use its own window (copying)?

python base.py NAME OUT_DIR [--set key=value ...] [--repeat-share P] [--every N] [--save DIR], with
DATA=<a quality run folder> holding tokens_train.npz and tokens_heldout.npz. `--set` takes the quality
bench's QualityConfig fields (base_steps, base_batch, base_lr, base.hidden_size, ...): the run trains with
the bench's own base stage (`QualityConfig.base_train_config` through `training.loop.train`). --repeat-share:
the share of blocks whose tail repeats an earlier span of the block (a copy curriculum). Every `--every`
steps it logs the held-out perplexity of the last 256 tokens with 8, 64 and 256 tokens before them, and the
loss on the first and second copy of a repeated random sequence (the induction test), to OUT_DIR/NAME.json.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import typer
from torch.utils.data import Dataset

from sharedllm.evaluation.quality import QualityConfig
from sharedllm.settings import apply_overrides
from sharedllm.training.base import PackedBlocks, build_base_model, collate_blocks
from sharedllm.training.loop import train

EOS = 2


def load_docs(path: str) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[f"arr_{i}"].astype(np.int64) for i in range(len(f["names"]))]


class RepeatedBlocks(Dataset):
    """Packed blocks where a share p ends with a copy of an earlier span of the same block (fixed per
    block: seeded by its index)."""

    def __init__(self, blocks: torch.Tensor, p: float):
        self.blocks, self.p = blocks, p

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> torch.Tensor:
        block, rng = self.blocks[i], np.random.default_rng(i * 7919)
        window = block.numel()
        if rng.random() >= self.p:
            return block
        n = int(rng.integers(window // 8, window // 2))
        start = int(rng.integers(0, window - 2 * n + 1))
        return torch.cat([block[: window - n], block[start : start + n]])


def token_nll(model, ids: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(model(ids).logits.float(), -1)
    return -logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]


@torch.no_grad()
def probe(model, heldout: list[np.ndarray]) -> dict:
    model.eval()
    dev, vocab = model.device, model.config.vocab_size
    rand = torch.randint(10, vocab, (16, 100), generator=torch.Generator().manual_seed(0))
    nll = token_nll(model, torch.cat([rand, rand], 1).to(dev))
    out = {"rand_first": nll[:, :99].mean().item(), "rand_second": nll[:, 100:].mean().item()}
    docs = [d for d in heldout if len(d) >= 2000][:40]
    for before in (8, 64, 256) if docs else ():
        ids = torch.stack([torch.from_numpy(d[-(256 + before) :]) for d in docs]).to(dev)
        out[f"ppl_ctx{before}"] = math.exp(token_nll(model, ids)[:, -256:].mean().item())
    return out


def main(
    name: str,
    out_dir: Path,
    settings: list[str] = typer.Option([], "--set", help="QualityConfig fields: --set base_steps=3000"),
    repeat_share: float = typer.Option(0.0, help="Share of blocks ending with a repeated span."),
    every: int = typer.Option(250, help="Probe every N optimizer steps."),
    save: Path | None = typer.Option(None, help="Save the final model here."),
    smoke: bool = typer.Option(False, help="Start from the bench's toy sizes (a CPU check of the script)."),
) -> None:
    data = os.environ.get("DATA", "runs/sharedllm-quality")
    cfg = apply_overrides(QualityConfig.smoke(out_dir) if smoke else QualityConfig(out=out_dir), settings)
    train_docs, heldout = load_docs(f"{data}/tokens_train.npz"), load_docs(f"{data}/tokens_heldout.npz")
    blocks = PackedBlocks(train_docs, cfg.base.window, EOS).blocks
    model = build_base_model(cfg.vocab_size, cfg.base, seed=cfg.seed)  # the loop's accelerator places it
    log, t0 = [], time.time()

    def on_step(step: int, trained, record: dict) -> None:
        if step % every and step != cfg.base_steps:
            return
        log.append({**probe(trained, heldout), "step": step, "loss": record["loss"], "s": time.time() - t0})
        (out_dir / f"{name}.json").write_text(json.dumps({"name": name, "settings": settings, "log": log}))
        print(name, json.dumps(log[-1]), flush=True)

    loop = cfg.base_train_config(out_dir / name)
    result = train(model, RepeatedBlocks(blocks, repeat_share), collate_blocks, loop, name, on_step)
    if save is not None:
        model.save_pretrained(save)
    print(name, "final", result.final_dir, flush=True)


if __name__ == "__main__":
    typer.run(main)
