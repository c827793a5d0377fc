"""Base-model sweep: when does the quality bench's tiny Llama learn to use its own window (copying)?

python base.py NAME OUT_DIR CONFIG_JSON, with DATA=<a quality run folder> holding tokens_train.npz and
tokens_heldout.npz. CONFIG_JSON keys: steps, bs, lr, shape [hidden, layers, heads, mlp], p (share of blocks
whose tail repeats an earlier span of the block: a copy curriculum), every, save (a folder for the model).
Every `every` steps it logs the held-out perplexity of the last 256 tokens with 8, 64 and 256 tokens before
them, and the loss on the first and second copy of a repeated random sequence (the induction test).
The same recipe as the bench's base stage (AdamW, weight decay on matrices, cosine with 2% warmup), in a
plain loop so that many configs can share one GPU.
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch

from sharedllm.training.base import BaseShape, PackedBlocks, build_base_model

WINDOW, VOCAB, EOS = 512, 4096, 2


def load_docs(path: str) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[f"arr_{i}"].astype(np.int64) for i in range(len(f["names"]))]


def with_repeat(block: torch.Tensor, p: float, rng: np.random.Generator) -> torch.Tensor:
    """With probability p, replace the block's tail by a copy of an earlier span of the same block."""
    if rng.random() >= p:
        return block
    n = int(rng.integers(WINDOW // 8, WINDOW // 2))
    start = int(rng.integers(0, WINDOW - 2 * n + 1))
    return torch.cat([block[: WINDOW - n], block[start : start + n]])


def token_nll(model, ids: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(model(ids).logits.float(), -1)
    return -logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]


@torch.no_grad()
def probe(model, heldout: list[np.ndarray], dev: str) -> dict:
    model.eval()
    rand = torch.randint(10, VOCAB, (16, 100), generator=torch.Generator().manual_seed(0))
    nll = token_nll(model, torch.cat([rand, rand], 1).to(dev))
    out = {"rand_first": nll[:, :99].mean().item(), "rand_second": nll[:, 100:].mean().item()}
    docs = [d for d in heldout if len(d) >= 2000][:40]
    for before in (8, 64, 256):
        ids = torch.stack([torch.from_numpy(d[-(256 + before) :]) for d in docs]).to(dev)
        out[f"ppl_ctx{before}"] = math.exp(token_nll(model, ids)[:, -256:].mean().item())
    model.train()
    return out


def main() -> None:
    name, out_dir, cfg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    data = os.environ.get("DATA", "runs/sharedllm-quality")
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    train_docs = load_docs(f"{data}/tokens_train.npz")
    blocks = PackedBlocks(train_docs, WINDOW, EOS).blocks
    heldout = load_docs(f"{data}/tokens_heldout.npz")
    hidden, layers, heads, mlp = cfg.get("shape", [128, 4, 4, 352])
    model = build_base_model(VOCAB, BaseShape(hidden, layers, heads, mlp, WINDOW), seed=0).to(dev)
    steps, bs, lr, p = cfg.get("steps", 3000), cfg.get("bs", 8), cfg.get("lr", 2e-3), cfg.get("p", 0.0)
    groups = [
        {"params": [q for q in model.parameters() if q.dim() >= 2], "weight_decay": 0.1},
        {"params": [q for q in model.parameters() if q.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999))
    warm = max(1, int(0.02 * steps))

    def schedule(s: int) -> float:
        return s / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    order = np.random.default_rng(0).permutation(len(blocks))
    seen, log, t0, ema = 0, [], time.time(), 0.0
    for step in range(1, steps + 1):
        idx = [order[(seen + j) % len(blocks)] for j in range(bs)]
        seen += bs
        x = torch.stack([with_repeat(blocks[i], p, np.random.default_rng(int(i) * 7919 + seen)) for i in idx])
        x = x.to(dev)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        ema = 0.98 * ema + 0.02 * loss.item() if step > 1 else loss.item()
        if step % cfg.get("every", 250) == 0 or step == steps:
            log.append({**probe(model, heldout, dev), "step": step, "loss": ema, "s": time.time() - t0})
            with open(f"{out_dir}/{name}.json", "w") as f:
                json.dump({"name": name, "cfg": cfg, "log": log}, f)
            print(name, json.dumps(log[-1]), flush=True)
    if cfg.get("save"):
        model.save_pretrained(cfg["save"])


if __name__ == "__main__":
    main()
