"""SharedLLM stage sweep: python sharedllm_stage.py NAME BASE_DIR CONFIG_JSON (DATA as in base.py).

Trains SharedLLM from a saved base with the bench's recipe (AdamW (0.9, 0.95), cosine with 5% warmup, 8 chunks
of 256 + 512 upper tokens, 4 examples per step) in a plain loop, then scores the bench's 40 held-out
documents at 4K and 16K: own, another document's and no context vs the truncated base, as paired ratios.
CONFIG_JSON keys: preset, lr, steps, inj (injection layers), kv (KVs per tree node), nch (chunks per example).
Prints one line "RESULT {...}".
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
from transformers import LlamaForCausalLM

from sharedllm import SharedLLMForCausalLM, apply_trainable_preset
from sharedllm.data.chunking import collate_chunked
from sharedllm.data.datasets import lm_examples
from sharedllm.evaluation.perplexity import PplSetup, evaluate_perplexity, paired_gain
from sharedllm.evaluation.quality import package_of, pick_eval_docs

LENGTHS = (4096, 16384)
METHODS = ("truncated", "sharedllm-none", "sharedllm-other", "sharedllm")


def load_docs(path: str) -> tuple[list[np.ndarray], list[str]]:
    with np.load(path) as f:
        names = [str(n) for n in f["names"]]
        return [f[f"arr_{i}"].astype(np.int64) for i in range(len(names))], names


def train_sharedllm(model, dataset, cfg: dict, dev: str) -> float:
    steps, bs = cfg.get("steps", 600), cfg.get("bs", 4)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.get("lr", 2e-3), betas=(0.9, 0.95))
    warm = max(1, int(0.05 * steps))

    def schedule(s: int) -> float:
        return s / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    order = np.random.default_rng(0).permutation(len(dataset))
    seen, ema = 0, 0.0
    model.train()
    for step in range(1, steps + 1):
        examples = [dataset[int(order[(seen + j) % len(dataset)])] for j in range(bs)]
        seen += bs
        batch = {k: v.to(dev) for k, v in collate_chunked(examples, 0).items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        ema = 0.98 * ema + 0.02 * loss.item() if step > 1 else loss.item()
    return ema


def main() -> None:
    name, base_dir, cfg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    data = os.environ.get("DATA", "runs/sharedllm-quality")
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    train_docs, _ = load_docs(f"{data}/tokens_train.npz")
    heldout, names = load_docs(f"{data}/tokens_heldout.npz")
    torch.manual_seed(0)
    model = SharedLLMForCausalLM.from_base(
        base_dir,
        num_injection_layers=cfg.get("inj", 2),
        chunk_size=256,
        kv_per_node=cfg.get("kv", 16),
        upper_window=512,
    ).to(dev)
    apply_trainable_preset(model, cfg.get("preset", "paper"))
    t0 = time.time()
    loss = train_sharedllm(model, lm_examples(train_docs, cfg.get("nch", 8), 256, 512), cfg, dev)
    train_s = time.time() - t0
    docs, picked_names = pick_eval_docs(heldout, names, max(LENGTHS), 40)
    base = LlamaForCausalLM.from_pretrained(base_dir).to(dev)
    rows = evaluate_perplexity(
        [torch.from_numpy(d) for d in docs],
        PplSetup(lengths=LENGTHS, full_max_len=0),
        METHODS,
        base=base,
        sharedllm=model,
        groups=[package_of(n) for n in picked_names],
    )
    result = {"name": name, "cfg": cfg, "train_loss": loss, "train_s": train_s}
    result["ppl"] = {f"{r.method}@{r.length}": round(r.ppl, 2) for r in rows}
    for length in LENGTHS:
        for against in METHODS[:3]:
            g = paired_gain(rows, "sharedllm", against, length)
            result[f"own/{against}@{length}"] = [round(g["ppl_ratio"], 4), *g["ratio_ci95"], g["docs_won"]]
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
