"""SharedLLM stage sweep: python sharedllm_stage.py NAME BASE_DIR [--set key=value ...] (DATA as in base.py).

Trains SharedLLM from a saved base with the quality bench's own SharedLLM stage (`QualityConfig`:
build_sharedllm, sharedllm_examples, shared_train_config, through `training.loop.train`), then scores the
bench's 40 held-out documents at 4K and 16K: own, another document's and no context vs the truncated base, as
paired ratios. `--set` takes QualityConfig fields (preset, shared_lr, shared_steps, injection_layers,
kv_per_node, n_chunks, ...). Prints one line "RESULT {...}".
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import typer
from transformers import LlamaForCausalLM

from sharedllm.data.chunking import collate_chunked
from sharedllm.evaluation.perplexity import PplSetup, evaluate_perplexity, paired_gain
from sharedllm.evaluation.quality import QualityConfig, package_of, pick_eval_docs
from sharedllm.settings import apply_overrides
from sharedllm.training.loop import train

METHODS = ("truncated", "sharedllm-none", "sharedllm-other", "sharedllm")


def load_docs(path: str) -> tuple[list[np.ndarray], list[str]]:
    with np.load(path) as f:
        names = [str(n) for n in f["names"]]
        return [f[f"arr_{i}"].astype(np.int64) for i in range(len(names))], names


def main(
    name: str,
    base_dir: Path,
    settings: list[str] = typer.Option([], "--set", help="QualityConfig fields: --set shared_lr=2e-3"),
    smoke: bool = typer.Option(False, help="Start from the bench's toy sizes (a CPU check of the script)."),
) -> None:
    data = os.environ.get("DATA", "runs/sharedllm-quality")
    out = Path(tempfile.mkdtemp(prefix=f"sweep-{name}-"))
    cfg = apply_overrides(QualityConfig.smoke(out) if smoke else QualityConfig(out=out), settings)
    lengths = (cfg.lengths[0], cfg.lengths[-1])  # 4K and 16K
    train_docs, _ = load_docs(f"{data}/tokens_train.npz")
    heldout, names = load_docs(f"{data}/tokens_heldout.npz")
    torch.manual_seed(cfg.seed)
    model, _ = cfg.build_sharedllm(base_dir)
    t0 = time.time()
    result = train(
        model,
        cfg.sharedllm_examples(train_docs),
        lambda b: collate_chunked(b, 0),
        cfg.shared_train_config(out),
    )
    train_s = time.time() - t0
    docs, picked_names = pick_eval_docs(heldout, names, max(lengths), cfg.eval_docs)
    dev = model.device
    base = LlamaForCausalLM.from_pretrained(base_dir).to(dev)
    setup = PplSetup(
        lengths=lengths,
        score_len=cfg.score_len,
        window=cfg.base.window,
        chunk_size=cfg.chunk_size,
        upper_len=cfg.upper_len,
        full_max_len=0,
    )
    rows = evaluate_perplexity(
        [torch.from_numpy(d) for d in docs],
        setup,
        METHODS,
        base=base,
        sharedllm=model,
        groups=[package_of(n) for n in picked_names],
    )
    record = {"name": name, "settings": settings, "train_loss": result.final_loss, "train_s": train_s}
    record["ppl"] = {f"{r.method}@{r.length}": round(r.ppl, 2) for r in rows}
    for length in lengths:
        for against in METHODS[:3]:
            g = paired_gain(rows, "sharedllm", against, length)
            record[f"own/{against}@{length}"] = [round(g["ppl_ratio"], 4), *g["ratio_ci95"], g["docs_won"]]
    print("RESULT " + json.dumps(record), flush=True)


if __name__ == "__main__":
    typer.run(main)
