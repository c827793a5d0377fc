"""Perplexity at length: the last `score_len` tokens of each document, read with more and more context.

The scored tokens are the same at every length (the end of each document's first max(lengths) tokens);
only the context before them grows, so differences between lengths come from context alone. Methods:

- `truncated`: the base model on its own window (the last `window` tokens).
- `sinks`: StreamingLLM-style, the document's own first `sink_tokens` tokens (attention sinks) + the most
  recent tokens, `window` in all, read as one block.
- `full`: the base model on the whole length (where it fits: up to `full_max_len`), RoPE unscaled: it
  extrapolates past its training window (a strawman, kept for reference).
- `full-linear`, `full-dynamic`, `full-yarn`: full attention with RoPE scaled the way users extend a window
  without training (transformers' `rope_parameters`: linear interpolation and YaRN with factor
  length / window; dynamic NTK, which rescales by the sequence's own length past the window).
- `sharedllm`: SharedLLM in the serving layout (`sharedllm.layout`): start-anchored chunks, the rest (between
  upper_len - chunk_size + 1 and upper_len tokens) in the upper model.
- `sharedllm-other`: the same upper text, but the context chunks of ANOTHER document (a control: the gain
  must vanish if it comes from the context).
- `sharedllm-none`: SharedLLM with no context chunks at all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from sharedllm.layout import layout_prompt

ROPE_METHODS = {"full-linear": "linear", "full-dynamic": "dynamic", "full-yarn": "yarn"}
BASE_METHODS = ("truncated", "sinks", "full", *ROPE_METHODS)
SHAREDLLM_METHODS = ("sharedllm", "sharedllm-other", "sharedllm-none")
METHODS = BASE_METHODS + SHAREDLLM_METHODS
LABELS = {
    "truncated": "base, truncated to its window",
    "sinks": "base, sliding window + attention sinks",
    "full": "base, full attention (RoPE unscaled)",
    "full-linear": "base, full attention, linear RoPE scaling",
    "full-dynamic": "base, full attention, dynamic NTK RoPE",
    "full-yarn": "base, full attention, YaRN RoPE",
    "sharedllm": "SharedLLM, own context",
    "sharedllm-other": "SharedLLM, another document's context",
    "sharedllm-none": "SharedLLM, no context",
}


@dataclass
class PplSetup:
    lengths: Sequence[int] = (4096, 8192, 16384)
    score_len: int = 256
    window: int = 512
    sink_tokens: int = 4
    chunk_size: int = 256
    upper_len: int = 512
    full_max_len: int = 16384

    def __post_init__(self) -> None:
        if not self.lengths:
            raise ValueError("give at least one context length")
        shortest_running = self.upper_len - self.chunk_size + 1  # the serving layout's shortest running text
        if self.score_len >= min(self.window, shortest_running):
            raise ValueError(
                f"score_len ({self.score_len}) must be below window and upper_len - chunk_size + 1 "
                f"({shortest_running})"
            )
        if self.score_len >= min(self.lengths):
            raise ValueError(f"score_len ({self.score_len}) must be below the shortest length")


@dataclass
class PplRow:
    method: str
    length: int
    ppl: float
    nll: float  # mean negative log-likelihood per scored token (nats)
    tokens: int
    docs: int
    doc_nll: list[float] = field(default_factory=list)  # per document, in document order
    doc_groups: list[str] = field(default_factory=list)  # each document's cluster (package), same order


def _logits(model, keep: int, **kwargs) -> torch.Tensor:
    # Only the scored positions' logits: a 16K x vocab float tensor is wasted memory.
    return model(**kwargs, use_cache=False, logits_to_keep=keep).logits


@torch.no_grad()
def score_last(model, input_ids: torch.Tensor, n_score: int, **kwargs) -> tuple[float, int]:
    """Summed NLL of the last n_score tokens of input_ids [T] given everything before them."""
    ids = input_ids.to(model.device)[None]
    extra = {k: v.to(model.device) for k, v in kwargs.items()}
    logits = _logits(model, n_score + 1, input_ids=ids, **extra)
    logits = logits[0, -n_score - 1 : -1].float()
    nll = F.cross_entropy(logits, ids[0, -n_score:], reduction="sum")
    return nll.item(), n_score


def _sharedllm_score(model, text: torch.Tensor, context_from: torch.Tensor | None, setup: PplSetup):
    """The text in the serving layout; its chunks replaced by the same span of `context_from` (another
    document for the control), or dropped when that is None."""
    layout = layout_prompt(text, setup.chunk_size, setup.upper_len)
    if context_from is None or layout.num_chunks == 0:
        return score_last(model, layout.running, setup.score_len)
    chunks = context_from[: layout.context.numel()].view(1, layout.num_chunks, setup.chunk_size)
    mask = torch.ones(chunks.shape[:2], dtype=torch.bool)
    return score_last(model, layout.running, setup.score_len, context_input_ids=chunks, context_mask=mask)


def rope_scaled(base, rope_type: str, window: int, length: int):
    """The base model with RoPE scaled to read `length` tokens (same weights, no training): linear / YaRN
    with factor length / window, dynamic NTK (factor 1: the sequence's own length sets the scaling)."""
    import copy

    config = copy.deepcopy(base.config)
    theta = config.rope_parameters.get("rope_theta", 10000.0)
    factor = 1.0 if rope_type == "dynamic" else max(length / window, 1.0)
    config.rope_parameters = {
        "rope_type": rope_type,
        "rope_theta": theta,
        "factor": factor,
        **({"original_max_position_embeddings": window} if rope_type in ("dynamic", "yarn") else {}),
    }
    config.max_position_embeddings = window if rope_type == "dynamic" else max(length, window)
    model = type(base)(config).to(base.device, base.dtype)
    model.load_state_dict(base.state_dict())
    return model.eval()


class _ScaledBases:
    """One RoPE-scaled copy of the base per (rope type, length), made on first use."""

    def __init__(self, base, window: int):
        self.base, self.window, self.models = base, window, {}

    def get(self, rope_type: str, length: int):
        key = (rope_type, length if rope_type != "dynamic" else 0)
        if key not in self.models:
            self.models[key] = rope_scaled(self.base, rope_type, self.window, length)
        return self.models[key]


def score_method(
    method: str,
    x: torch.Tensor,
    other: torch.Tensor | None,
    setup: PplSetup,
    base=None,
    sharedllm=None,
    head: torch.Tensor | None = None,
    scaled: _ScaledBases | None = None,
) -> tuple[float, int] | None:
    """x: the document's last `length` tokens; other: another document's tokens of the same length; head:
    the document's own first tokens (the sinks; default: x's first tokens)."""
    if method == "truncated":
        return score_last(base, x[-setup.window :], setup.score_len)
    if method == "sinks":
        s = setup.sink_tokens
        sinks = (head if head is not None else x)[:s]
        return score_last(base, torch.cat([sinks, x[-(setup.window - s) :]]), setup.score_len)
    if method == "full":
        return score_last(base, x, setup.score_len) if x.numel() <= setup.full_max_len else None
    if method in ROPE_METHODS:
        if x.numel() > setup.full_max_len:
            return None
        scaled = scaled or _ScaledBases(base, setup.window)
        return score_last(scaled.get(ROPE_METHODS[method], x.numel()), x, setup.score_len)
    if method == "sharedllm":
        return _sharedllm_score(sharedllm, x, x, setup)
    if method == "sharedllm-other":
        # Same running text, the other document's chunks in their place.
        return _sharedllm_score(sharedllm, x, other, setup)
    if method == "sharedllm-none":
        return _sharedllm_score(sharedllm, x, None, setup)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def other_document_order(groups: Sequence[str]) -> list[int]:
    """For each document, another one, from a different group (package) whenever there is one."""
    n = len(groups)
    order = []
    for i in range(n):
        j = next((k % n for k in range(i + 1, i + n) if groups[k % n] != groups[i]), (i + 1) % n)
        order.append(j)
    return order


def evaluate_perplexity(
    docs: Sequence[torch.Tensor],
    setup: PplSetup,
    methods: Sequence[str],
    base=None,
    sharedllm=None,
    groups: Sequence[str] | None = None,
) -> list[PplRow]:
    """Every method on the same documents and the same scored tokens, at each length."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if any(m in BASE_METHODS for m in methods) and base is None:
        raise ValueError("the base-model methods need a base model")
    if any(m in SHAREDLLM_METHODS for m in methods) and sharedllm is None:
        raise ValueError("the sharedllm methods need a SharedLLM model")
    longest = max(setup.lengths)
    docs = [torch.as_tensor(d[:longest], dtype=torch.long) for d in docs if len(d) >= longest]
    if not docs:
        raise ValueError(f"no document has the {longest} tokens the longest length needs")
    if len(docs) < 2 and "sharedllm-other" in methods:
        raise ValueError("the other-context control needs at least two documents")
    groups = list(groups) if groups is not None else [str(i) for i in range(len(docs))]
    other = other_document_order(groups[: len(docs)])
    for m in (base, sharedllm):
        if m is not None:
            m.eval()
    scaled = _ScaledBases(base, setup.window) if base is not None else None
    per_doc: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
    doc_ids: dict[tuple[str, int], list[int]] = defaultdict(list)
    work = [(length, i) for length in sorted(setup.lengths) for i in range(len(docs))]
    for length, i in tqdm(work, desc="perplexity", leave=False):
        x, y = docs[i][-length:], docs[other[i]][-length:]
        for method in methods:
            scored = score_method(
                method, x, y, setup, base=base, sharedllm=sharedllm, head=docs[i], scaled=scaled
            )
            if scored is not None:
                per_doc[(method, length)].append(scored)
                doc_ids[(method, length)].append(i)
    rows = []
    for (method, length), scores in sorted(
        per_doc.items(), key=lambda kv: (methods.index(kv[0][0]), kv[0][1])
    ):
        nll, n = sum(s for s, _ in scores), sum(c for _, c in scores)
        rows.append(
            PplRow(
                method,
                length,
                math.exp(nll / n),
                nll / n,
                n,
                len(scores),
                [s / c for s, c in scores],
                [groups[i] for i in doc_ids[(method, length)]],
            )
        )
    return rows


def window_use(
    model, docs: Sequence[torch.Tensor], score_len: int, befores: Sequence[int]
) -> dict[int, float]:
    """Perplexity of each document's last score_len tokens with only `before` tokens ahead of them: whether a
    model uses the context inside its own window at all (a model that cannot copy gains nothing from it)."""
    if any(b < 1 for b in befores):
        raise ValueError(f"every lead must be at least 1 token (the first scored token needs one): {befores}")
    model.eval()
    out = {}
    for before in befores:
        scores = [score_last(model, torch.as_tensor(d)[-(score_len + before) :], score_len) for d in docs]
        out[before] = math.exp(sum(s for s, _ in scores) / sum(n for _, n in scores))
    return out


def clustered_se(diffs: Sequence[float], groups: Sequence[str] | None) -> float:
    """Standard error of the mean of `diffs` with documents of one group (package) correlated: the
    cluster-robust (CR1) estimate, sum over clusters of the squared within-cluster residual sums, scaled by
    G / (G - 1). Without groups, or with one document per group, it is the ordinary standard error up to the
    n / (n - 1) factor."""
    n = len(diffs)
    mean = sum(diffs) / n
    if not groups:
        return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n)
    sums: dict[str, float] = defaultdict(float)
    for d, g in zip(diffs, groups, strict=True):
        sums[g] += d - mean
    k = len(sums)
    if k < 2:
        return float("inf")
    return math.sqrt(k / (k - 1) * sum(v * v for v in sums.values())) / n


def paired_gain(rows: Sequence[PplRow], method: str, against: str, length: int) -> dict | None:
    """How much `method` beats `against` on the same documents: perplexity ratio, documents won, and a 95%
    interval of the ratio: mean per-document NLL difference +- 2 standard errors, clustered by the
    documents' groups (packages) when the rows carry them, since documents of one package are not
    independent."""
    by = {(r.method, r.length): r for r in rows}
    a, b = by.get((method, length)), by.get((against, length))
    if a is None or b is None or len(a.doc_nll) != len(b.doc_nll) or len(a.doc_nll) < 2:
        return None
    diffs = [x - y for x, y in zip(a.doc_nll, b.doc_nll, strict=True)]
    mean = sum(diffs) / len(diffs)
    groups = a.doc_groups if len(a.doc_groups) == len(diffs) else None
    se = clustered_se(diffs, groups)
    return {
        "clusters": len(set(groups)) if groups else len(diffs),
        "method": method,
        "against": against,
        "length": length,
        "ppl_ratio": math.exp(mean),
        "ratio_ci95": [math.exp(mean - 2 * se), math.exp(mean + 2 * se)],
        "docs_won": sum(d < 0 for d in diffs),
        "docs": len(diffs),
    }


def ppl_table(rows: Sequence[PplRow]) -> str:
    """A markdown table: one row per method, one column per length (— where a method did not run)."""
    lengths = sorted({r.length for r in rows})
    methods = list(dict.fromkeys(r.method for r in rows))
    cell = {(r.method, r.length): r.ppl for r in rows}
    head = "| method | " + " | ".join(f"{n // 1024}K" if n % 1024 == 0 else str(n) for n in lengths) + " |"
    lines = [head, "|---|" + "---:|" * len(lengths)]
    for m in methods:
        vals = [f"{cell[(m, n)]:.3f}" if (m, n) in cell else "—" for n in lengths]
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def plot_ppl(
    rows: Sequence[PplRow],
    path: Path,
    title: str = "perplexity of the last tokens vs context length",
    reference: str = "truncated",
):
    """Left: perplexity per method (log scale). Right, when `reference` ran: each method's perplexity ratio to
    it on the same documents, with its 95% interval, zoomed to where the differences are (methods further
    than 25% off are named in a note instead)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r.method for r in rows))
    paired = reference in methods and len(methods) > 1
    fig, axes = plt.subplots(1, 2 if paired else 1, figsize=(12 if paired else 7, 4.5), squeeze=False)
    ax = axes[0][0]
    for i, method in enumerate(methods):
        pts = sorted((r.length, r.ppl) for r in rows if r.method == method)
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker="o",
            color=f"C{i}",
            label=LABELS.get(method, method),
        )
    ax.set_yscale("log")
    ax.set_ylabel("perplexity (lower is better, log scale)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    if paired:
        _plot_ratios(axes[0][1], rows, methods, reference)
    for a in axes[0]:
        a.set_xscale("log", base=2)
        a.set_xlabel("context length (tokens)")
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_ratios(ax, rows: Sequence[PplRow], methods: list[str], reference: str) -> None:
    lengths = sorted({r.length for r in rows})
    off_scale = []
    for i, method in enumerate(methods):
        gains = [g for n in lengths if method != reference and (g := paired_gain(rows, method, reference, n))]
        if not gains:
            continue
        if max(abs(g["ppl_ratio"] - 1) for g in gains) > 0.25:
            off_scale.append(LABELS.get(method, method))
            continue
        x = [g["length"] for g in gains]
        y = [g["ppl_ratio"] for g in gains]
        err = [
            [g["ppl_ratio"] - g["ratio_ci95"][0] for g in gains],
            [g["ratio_ci95"][1] - g["ppl_ratio"] for g in gains],
        ]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=f"C{i}", label=LABELS.get(method, method))
    ax.axhline(
        1.0, color=f"C{methods.index(reference)}", linestyle="--", label=LABELS.get(reference, reference)
    )
    ax.set_ylabel(f"perplexity ratio to {LABELS.get(reference, reference)}")
    ax.set_title("paired ratio on the same documents (95% interval)", fontsize=10)
    if off_scale:
        ax.text(0.01, 0.01, "off scale: " + ", ".join(off_scale), transform=ax.transAxes, fontsize=7)
    ax.legend(fontsize=8)


def rows_to_json(rows: Sequence[PplRow]) -> list[dict]:
    return [asdict(r) for r in rows]
