"""Teacher-forced answer accuracy of a SharedLLM on fresh retrieval examples in the training layout: how
often the first answer token, the later ones and the whole key are right (greedy argmax per position).

python packages/sharedllm/benchmarks/retrieval/answer_tokens.py runs/sharedllm-retrieval/sllm/final
"""

from __future__ import annotations

import argparse

import torch
from transformers import AutoTokenizer

from sharedllm import SharedLLMForCausalLM
from sharedllm.data.chunking import IGNORE_INDEX, collate_chunked
from sharedllm.data.retrieval import retrieval_examples


@torch.no_grad()
def answer_accuracy(model, tok, template: str, count: int, chunks: int, seed: int) -> dict:
    c = model.config
    examples = retrieval_examples(tok, count, chunks, c.chunk_size, c.upper_window, [template], seed=seed)
    batch = collate_chunked(examples, tok.pad_token_id if tok.pad_token_id is not None else 0)
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    pred, target = logits[:, :-1].argmax(-1), batch["labels"][:, 1:]
    mask = target != IGNORE_INDEX
    rows = torch.arange(len(examples))
    first = mask.float().argmax(1)
    later = mask.clone()
    later[rows, first] = False
    return {
        "first answer token": float((pred[rows, first] == target[rows, first]).float().mean()),
        "later answer tokens": float(((pred == target) & later).sum() / later.sum()),
        "whole key": f"{int(((pred == target) | ~mask).all(dim=1).sum())}/{len(examples)}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a SharedLLM checkpoint")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--chunks", type=int, default=64, help="most context chunks per example")
    ap.add_argument("--seed", type=int, default=4242)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.model)
    model = SharedLLMForCausalLM.from_pretrained(args.model).eval()
    for template in ("text", "python"):
        print(template, answer_accuracy(model, tok, template, args.count, args.chunks, args.seed))


if __name__ == "__main__":
    main()
