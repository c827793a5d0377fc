"""A trained SharedLLM checkpoint saved again with another context tree (no weights change: the tree only
chooses which of the lower model's keys and values are kept), so `sharedllm eval retrieval` can compare the
`right` and the query-aware policy at a compression the model was not trained at.

python packages/sharedllm/benchmarks/retrieval/with_tree.py runs/sharedllm-retrieval/sllm/final \
    runs/sharedllm-retrieval/sllm-h2 --tree-height 2 --kv-per-node 16
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transformers import AutoTokenizer

from sharedllm import SharedLLMConfig, SharedLLMForCausalLM


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a SharedLLM checkpoint")
    ap.add_argument("out", help="where the copy goes")
    ap.add_argument("--tree-height", type=int, required=True)
    ap.add_argument("--kv-per-node", type=int, required=True)
    args = ap.parse_args()
    if not (Path(args.model) / "config.json").is_file():
        ap.error(f"{args.model} is not a SharedLLM checkpoint (no config.json)")
    config = SharedLLMConfig.from_pretrained(args.model)
    config.tree_height, config.kv_per_node = args.tree_height, args.kv_per_node
    try:
        config.validate_sharedllm()  # from_pretrained's overrides skip the config's own checks
    except ValueError as exc:
        ap.error(str(exc))
    model = SharedLLMForCausalLM.from_pretrained(args.model, config=config)
    c = model.config
    print(
        f"{c.chunk_size}-token chunks keep {model.tree.kv_per_chunk} keys and values each "
        f"(tree height {c.tree_height}, {c.kv_per_node} per node)"
    )
    model.save_pretrained(args.out)
    AutoTokenizer.from_pretrained(args.model).save_pretrained(args.out)


if __name__ == "__main__":
    main()
