"""Retrieval from far back (`sharedllm eval retrieval`): passkey accuracy over lengths x depths, in text and
in code, for several ways of reading the prompt, drawn as heat maps side by side.

Methods: `sharedllm-right`, `sharedllm-query` and `sharedllm-query-max` (the SharedLLM checkpoint with the
`right`, the query-aware and the query-max policy; the query is the prompt's last token, the end of the
question), `truncated` (the base
model on its window: the needle is out of reach beyond it, so it can only guess) and `full-yarn` (the base
model reading everything with YaRN-scaled RoPE, up to `full_max_len`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sharedllm.evaluation.passkey import TEMPLATES, passkey_accuracy

RETRIEVAL_METHODS = ("sharedllm-query", "sharedllm-query-max", "sharedllm-right", "truncated", "full-yarn")
LABELS = {
    "sharedllm-query": "SharedLLM, query-aware policy",
    "sharedllm-query-max": "SharedLLM, query-max policy",
    "sharedllm-right": "SharedLLM, right policy",
    "truncated": "base, truncated to its window",
    "full-yarn": "base, full attention (YaRN RoPE)",
}


def chance_accuracy(digits: int = 5) -> float:
    """A guess of a uniformly drawn key of `digits` digits."""
    return 1 / (9 * 10 ** (digits - 1))


def run_retrieval(
    sharedllm,
    base,
    tokenizer,
    methods: Sequence[str],
    templates: Sequence[str],
    lengths: Sequence[int],
    depths: Sequence[float],
    trials: int,
    window: int,
    upper_window: int,
    full_max_len: int = 8192,
    seed: int = 1234,
    progress=None,
) -> dict:
    """{template: {method: grid [depth][length] (None where a method did not run)}}."""
    from sharedllm.evaluation.perplexity import rope_scaled

    unknown = [m for m in methods if m not in RETRIEVAL_METHODS]
    if unknown:
        raise ValueError(f"unknown retrieval method(s) {unknown}; choose from {', '.join(RETRIEVAL_METHODS)}")
    bad = [t for t in templates if t not in TEMPLATES]
    if bad:
        raise ValueError(f"unknown template(s) {bad}; choose from {', '.join(TEMPLATES)}")
    if any(m.startswith("sharedllm") for m in methods) and sharedllm is None:
        raise ValueError("the sharedllm methods need a SharedLLM checkpoint")
    if any(not m.startswith("sharedllm") for m in methods) and base is None:
        raise ValueError("the truncated and full methods need a base model (--base)")
    own_policy = sharedllm.config.selection_policy if sharedllm is not None else None
    out: dict = {}
    for template in templates:
        tpl = TEMPLATES[template]()
        out[template] = {}
        for method in methods:
            grid: list[list[float | None]] = [[None] * len(lengths) for _ in depths]
            for j, length in enumerate(lengths):
                if method.startswith("sharedllm"):
                    sharedllm.set_selection(method.removeprefix("sharedllm-"))
                    model, how, win = sharedllm, "sharedllm", upper_window
                elif method == "truncated":
                    model, how, win = base, "truncated", window
                else:
                    if length > full_max_len:
                        continue
                    model, how, win = rope_scaled(base, "yarn", window, length), "full", length
                # The same seed for every method and length: each cell sees the same keys at each depth.
                column = passkey_accuracy(
                    model, tokenizer, how, [length], depths, trials, win, tpl, seed=seed
                )
                for i in range(len(depths)):
                    grid[i][j] = column[i][0]
                if progress is not None:
                    progress(f"{template} {method} {length}: {sum(r[0] for r in column) / len(depths):.0%}")
            out[template][method] = grid
    if sharedllm is not None and own_policy is not None:
        sharedllm.set_selection(own_policy)
    return out


def length_label(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)


def mean_over_depths(grid: list[list[float | None]]) -> list[float | None]:
    cols = list(zip(*grid, strict=True))
    return [None if any(v is None for v in c) else sum(c) / len(c) for c in cols]


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% score interval of a proportion (unlike p +- 2 se, sound near 0% or 100% and for few prompts)."""
    if n <= 0:
        raise ValueError(f"an interval needs at least one prompt, got {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def retrieval_table(results: dict, lengths: Sequence[int], prompts_per_length: int | None = None) -> str:
    """Accuracy averaged over depths, one row per (template, method), one column per length; with
    `prompts_per_length` (keys per cell x depths) each cell also shows its 95% Wilson interval."""
    head = "| template | method | " + " | ".join(length_label(n) for n in lengths) + " |"
    lines = [head, "|---|---|" + "---:|" * len(lengths)]
    for template, grids in results.items():
        for method, grid in grids.items():
            vals = []
            for v in mean_over_depths(grid):
                if v is None:
                    vals.append("—")
                elif prompts_per_length:
                    lo, hi = wilson_interval(v * prompts_per_length, prompts_per_length)
                    vals.append(f"{v:.0%} ({lo:.0%}–{hi:.0%})")
                else:
                    vals.append(f"{v:.0%}")
            lines.append(f"| {template} | {LABELS.get(method, method)} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def plot_retrieval(
    results: dict, lengths: Sequence[int], depths: Sequence[float], path: Path, title: str = ""
) -> Path:
    """One heat map per (method, template): depth x length, accuracy in each cell (blank: not run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    templates = list(results)
    methods = list(dict.fromkeys(m for t in templates for m in results[t]))
    fig, axes = plt.subplots(
        len(templates),
        len(methods),
        figsize=(0.9 + 2.6 * len(methods), 1.0 + 2.8 * len(templates)),
        squeeze=False,
    )
    im = None
    for r, template in enumerate(templates):
        for c, method in enumerate(methods):
            ax = axes[r][c]
            grid = results[template].get(method)
            data = np.array([[np.nan if v is None else v for v in row] for row in grid], dtype=float)
            im = ax.imshow(data, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
            for i in range(len(depths)):
                for j in range(len(lengths)):
                    if not np.isnan(data[i, j]):
                        ax.text(j, i, f"{data[i, j]:.0%}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(lengths)), [length_label(n) for n in lengths], fontsize=7)
            ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths], fontsize=7)
            ax.set_title(f"{LABELS.get(method, method)}\n({template})", fontsize=8)
            if c == 0:
                ax.set_ylabel("needle depth", fontsize=8)
            if r == len(templates) - 1:
                ax.set_xlabel("prompt length", fontsize=8)
    fig.subplots_adjust(hspace=0.55, wspace=0.3)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="accuracy")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
