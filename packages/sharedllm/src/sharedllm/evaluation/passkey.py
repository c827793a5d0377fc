"""Passkey retrieval: a number hidden at some depth in filler text; can the model repeat it at the end?"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from sharedllm.layout import layout_prompt

PASSKEY_METHODS = ("sharedllm", "truncated", "full")


@dataclass(frozen=True)
class PasskeyTemplate:
    head: str
    filler: str
    needle: str  # holds {key}
    question: str

    @classmethod
    def text(cls) -> PasskeyTemplate:
        """The standard prompt (Landmark Attention / LongLoRA / Activation Beacon)."""
        return cls(
            head="There is an important info hidden inside a lot of irrelevant text. "
            "Find it and memorize it. I will quiz you about the important information there.\n",
            filler="The grass is green. The sky is blue. The sun is yellow. "
            "Here we go. There and back again.\n",
            needle="The pass key is {key}. Remember it. {key} is the pass key.\n",
            question="What is the pass key? The pass key is",
        )

    @classmethod
    def python(cls) -> PasskeyTemplate:
        """The same test in code, for models trained on source files."""
        return cls(
            head="# configuration module\n",
            filler="value = compute(value)  # keep going\n",
            needle="PASS_KEY = {key}\n",
            question="assert PASS_KEY ==",
        )


TEMPLATES = {"text": PasskeyTemplate.text, "python": PasskeyTemplate.python}


def passkey_prompt(tokenizer, template: PasskeyTemplate, length: int, depth: float, key: str) -> torch.Tensor:
    """About `length` tokens with the needle after a `depth` fraction (0 = start, 1 = end) of the filler."""
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be in [0, 1], got {depth}")

    def enc(s: str) -> list[int]:
        return tokenizer(s, add_special_tokens=False)["input_ids"]

    head, filler, question = enc(template.head), enc(template.filler), enc(template.question)
    needle = enc(template.needle.format(key=key))
    n_fill = (length - len(head) - len(needle) - len(question)) // len(filler)
    if n_fill < 0:
        raise ValueError(f"length {length} is too short for the prompt ({len(head) + len(needle)} tokens)")
    before = round(depth * n_fill)
    ids = head + filler * before + needle + filler * (n_fill - before) + question
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def generate_answer(method: str, prompt: torch.Tensor, max_new_tokens: int, window: int, model) -> list[int]:
    """Greedy continuation of the prompt as each method reads it."""
    if method == "sharedllm":
        # The serving layout: start-anchored chunks, room left in the window for the answer.
        layout = layout_prompt(prompt, model.config.chunk_size, window, reserve=max_new_tokens)
        cache = model.extend_context(model.new_context_cache(), layout.context.to(model.device))
        upper = layout.running[None].to(model.device)
        out = model.generate(upper, context_cache=cache, max_new_tokens=max_new_tokens, do_sample=False)
    elif method in ("truncated", "full"):
        ids = prompt[-window:] if method == "truncated" else prompt
        upper = ids[None].to(model.device)
        out = model.generate(upper, max_new_tokens=max_new_tokens, do_sample=False)
    else:
        raise ValueError(f"unknown passkey method {method!r}; choose from {', '.join(PASSKEY_METHODS)}")
    return out[0, upper.shape[1] :].tolist()


def passkey_accuracy(
    model,
    tokenizer,
    method: str,
    lengths: Sequence[int],
    depths: Sequence[float],
    trials: int = 5,
    window: int = 4096,
    template: PasskeyTemplate | None = None,
    digits: int = 5,
    seed: int = 0,
) -> list[list[float]]:
    """Accuracy grid [len(depths)][len(lengths)]: the answer is right when it starts with the key."""
    template = template or PasskeyTemplate.text()
    rng = random.Random(seed)
    model.eval()
    grid = [[0.0] * len(lengths) for _ in depths]
    cells = [(i, j) for i in range(len(depths)) for j in range(len(lengths))]
    for i, j in tqdm(cells, desc=f"passkey {method}", leave=False):
        hits = 0
        for _ in range(trials):
            key = str(rng.randrange(10 ** (digits - 1), 10**digits))
            prompt = passkey_prompt(tokenizer, template, lengths[j], depths[i], key)
            n_new = len(tokenizer(" " + key, add_special_tokens=False)["input_ids"]) + 2
            answer = tokenizer.decode(generate_answer(method, prompt, n_new, window, model))
            hits += answer.strip().startswith(key)
        grid[i][j] = hits / trials
    return grid


def plot_passkey(
    grid: list[list[float]],
    lengths: Sequence[int],
    depths: Sequence[float],
    path: Path,
    title: str = "passkey retrieval accuracy",
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(lengths), 1.2 + 0.5 * len(depths)))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(lengths)), [f"{n // 1024}K" if n >= 1024 else str(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
    ax.set_xlabel("prompt length (tokens)")
    ax.set_ylabel("needle depth")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="accuracy")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
