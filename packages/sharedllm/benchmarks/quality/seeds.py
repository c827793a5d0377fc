"""The quality bench's goal ratios across seeds: one table and one plot from <root>/seed*/results.json.

python packages/sharedllm/benchmarks/quality/seeds.py runs/sharedllm-quality   # writes seeds.md, seeds.png
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sharedllm.evaluation.perplexity import LABELS

# (method, against, goal): the comparisons the goals are stated in
COMPARISONS = (
    ("sharedllm", "truncated", "<= 0.95, interval clear of 1"),
    ("sharedllm-other", "truncated", "within 0.99-1.01"),
    ("sharedllm", "sharedllm-other", "the document's own share"),
    ("sharedllm-none", "truncated", "generic training effect"),
)


def load_seeds(root: Path) -> dict[int, dict]:
    runs = {}
    for path in sorted(root.glob("seed*/results.json")):
        try:
            result = json.loads(path.read_text())
            runs[int(result["config"]["seed"])] = result
            _ = result["gains"][0]["ppl_ratio"]  # the shape this table reads
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise ValueError(f"{path} is not a quality bench result ({type(err).__name__}: {err})") from None
    if not runs:
        raise ValueError(f"no seed*/results.json under {root}")
    return runs


def gain(result: dict, method: str, against: str, length: int) -> dict | None:
    for g in result["gains"]:
        if (g["method"], g["against"], g["length"]) == (method, against, length):
            return g
    return None


def seeds_table(runs: dict[int, dict]) -> str:
    lengths = sorted({g["length"] for r in runs.values() for g in r["gains"]})
    head = "| comparison (perplexity ratio, 95% interval clustered by package) | goal | seed | "
    lines = [head + " | ".join(f"{n // 1024}K" for n in lengths) + " |"]
    lines.append("|---|---|---:|" + "---|" * len(lengths))
    for method, against, goal in COMPARISONS:
        for seed, result in runs.items():
            cells = []
            for n in lengths:
                g = gain(result, method, against, n)
                lo, hi = g["ratio_ci95"] if g else (None, None)
                cells.append(f"{g['ppl_ratio']:.3f} ({lo:.3f}–{hi:.3f})" if g else "—")
            name = f"{LABELS.get(method, method)} vs {LABELS.get(against, against)}"
            lines.append(f"| {name} | {goal} | {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_seeds(runs: dict[int, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted({g["length"] for r in runs.values() for g in r["gains"]})
    fig, axes = plt.subplots(
        1, len(COMPARISONS) - 1, figsize=(4.2 * (len(COMPARISONS) - 1), 3.4), sharey=True
    )
    for ax, (method, against, goal) in zip(axes, COMPARISONS[:-1], strict=True):
        for i, (seed, result) in enumerate(runs.items()):
            found = [(j, gain(result, method, against, n)) for j, n in enumerate(lengths)]
            gs = [g for _, g in found if g]
            x = [j + 0.1 * (i - (len(runs) - 1) / 2) for j, g in found if g]
            y = [g["ppl_ratio"] for g in gs]
            err = [
                [g["ppl_ratio"] - g["ratio_ci95"][0] for g in gs],
                [g["ratio_ci95"][1] - g["ppl_ratio"] for g in gs],
            ]
            ax.errorbar(
                x, y, yerr=err, marker="o", capsize=3, linestyle="none", color=f"C{i}", label=f"seed {seed}"
            )
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(lengths)), [f"{n // 1024}K" for n in lengths])
        ax.set_title(f"{LABELS.get(method, method)}\nvs {LABELS.get(against, against)}", fontsize=8)
        ax.set_xlabel(f"context length (goal: {goal})", fontsize=8)
    axes[0].axhline(0.95, color="C3", linestyle="--", linewidth=0.8, label="goal 0.95")
    axes[1].axhspan(0.99, 1.01, color="C2", alpha=0.15, label="goal band")
    axes[0].set_ylabel("perplexity ratio (lower: better)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(root: Path = typer.Argument(..., help="Folder holding seed*/results.json")) -> None:
    try:
        runs = load_seeds(root)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    (root / "seeds.md").write_text(seeds_table(runs))
    plot_seeds(runs, root / "seeds.png")
    typer.echo((root / "seeds.md").read_text())


if __name__ == "__main__":
    typer.run(main)
