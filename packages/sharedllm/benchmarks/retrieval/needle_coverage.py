"""Does the needle survive compression? For passkey prompts laid out as `sharedllm eval retrieval` lays them
out, the share of the key's tokens (in the needle's chunk) that the context tree keeps, per policy.

python benchmarks/retrieval/needle_coverage.py runs/sharedllm-retrieval/base/final \
    --set chunk_size=128 --set tree_height=3 --set kv_per_node=16 --set upper_window=256

MODEL is a base checkpoint (a SharedLLM is built around it with the --set values) or a SharedLLM
checkpoint. A key counts as "read" when every token of at least one of its copies in the needle is kept.
"""

from __future__ import annotations

import argparse
import random

import torch
from transformers import AutoConfig, AutoTokenizer

from sharedllm import SharedLLMForCausalLM
from sharedllm.data.retrieval import answer_ids
from sharedllm.evaluation.passkey import TEMPLATES, passkey_prompt
from sharedllm.layout import layout_prompt


def key_spans(prompt: list[int], key: list[int], cut: int) -> list[range]:
    """Positions of each copy of the key's tokens that lies in the context chunks (before `cut`)."""
    n = len(key)
    return [range(i, i + n) for i in range(cut - n + 1) if prompt[i : i + n] == key]


@torch.no_grad()
def coverage(model, tok, template: str, length: int, trials: int, seed: int) -> dict:
    rng = random.Random(seed)
    tpl, c = TEMPLATES[template](), model.config.chunk_size
    read = fine = 0
    counted = 0
    for _ in range(trials):
        key = str(rng.randrange(10**4, 10**5))
        prompt = passkey_prompt(tok, tpl, length, rng.random(), key)
        layout = layout_prompt(prompt, c, model.config.upper_window, reserve=8)
        key_ids = answer_ids(tok, key)  # " <key>", as in the needle
        spans = key_spans(prompt.tolist(), key_ids, layout.num_chunks * c)
        if not spans:  # the needle is in the running text: nothing to compress
            continue
        counted += 1
        encoded = model.encode_chunks(layout.context)
        query = None
        if model.tree.needs_query:
            query = model.query_state(layout.running[None]).expand(layout.num_chunks, -1)
        kept = model.tree.select(layout.num_chunks, prompt.device, probe=encoded.probe, query=query)
        kept_abs = {int(k) for k in (kept + torch.arange(layout.num_chunks)[:, None] * c).flatten()}
        read += any(all(p in kept_abs for p in s) for s in spans)
        fine += sum(p in kept_abs for s in spans for p in s) / sum(len(s) for s in spans)
    return {
        "prompts with the key in the chunks": counted,
        "key read whole": read / max(counted, 1),
        "key tokens kept": fine / max(counted, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--set", action="append", default=[], help="from_base setting, e.g. chunk_size=128")
    ap.add_argument("--lengths", default="4096,16384")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--policies", default="right,query,query-max")
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.model)
    kwargs = {k: int(v) for k, v in (s.split("=", 1) for s in args.set)}
    if AutoConfig.from_pretrained(args.model).model_type == "sharedllm":
        model = SharedLLMForCausalLM.from_pretrained(args.model)
    else:
        model = SharedLLMForCausalLM.from_base(args.model, num_injection_layers=2, **kwargs)
    model.eval()
    for policy in args.policies.split(","):
        model.set_selection(policy)
        for template in TEMPLATES:
            for length in (int(x) for x in args.lengths.split(",")):
                res = coverage(model, tok, template, length, args.trials, args.seed)
                print(policy, template, length, res)


if __name__ == "__main__":
    main()
