"""A run's report: plots (SLM accuracy per client per round, LLM task accuracy, LLM general perplexity)."""

from __future__ import annotations

import json
from pathlib import Path


def _series(summary: dict, key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    if key in summary.get("initial", {}):
        xs.append(0)
        ys.append(summary["initial"][key])
    for rec in summary["rounds"]:
        if key in rec:
            xs.append(rec["round"])
            ys.append(rec[key])
    return xs, ys


def _note(ax, text: str) -> None:
    """A panel with nothing to draw says why, instead of showing empty axes."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)


def _honest_range(ax, ys: list[float]) -> None:
    """No offset notation, and at least +-10% around a flat series, so a flat line looks flat."""
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    lo, hi = min(ys), max(ys)
    mid, span = (lo + hi) / 2, max(hi - lo, 0.2 * abs((lo + hi) / 2), 1e-9)
    ax.set_ylim(mid - 0.6 * span, mid + 0.6 * span)


def write_report(out_dir: str | Path) -> Path:
    """report.png + report.md next to metrics.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = Path(out_dir)
    summary = json.loads((out / "metrics.json").read_text())
    rounds = summary["rounds"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    per_client: dict[int, list[tuple[int, float]]] = {}
    for rec in rounds:
        for c in rec["clients"]:
            per_client.setdefault(int(c["partition_id"]), []).append((rec["round"], c["test_accuracy"]))
    for pid, pts in sorted(per_client.items())[:30]:
        axes[0].plot(
            *zip(*pts, strict=True), marker=".", alpha=0.5, label=f"client {pid}" if pid < 8 else None
        )
    xs, ys = _series(summary, "slm_mean_accuracy")
    axes[0].plot(xs, ys, color="black", linewidth=2.5, label="mean")
    axes[0].set(title=f"SLM test accuracy ({summary['method']})", xlabel="round", ylabel="accuracy")
    axes[0].set_ylim(0, 1)  # accuracy on its whole scale: small changes look small
    axes[0].legend(fontsize=7)
    response = summary.get("config", {}).get("mode") == "response"
    for ax, key, title in (
        (axes[1], "mean_quality", "answers' mean reward-model score")
        if response
        else (axes[1], "llm_task_accuracy", "LLM task accuracy"),
        (axes[2], "llm_general_ppl", "LLM general perplexity"),
    ):
        xs, ys = _series(summary, key)
        ax.set(title=title, xlabel="round (0 = before)")
        if not xs:
            _note(ax, f"no {title} in a {summary['method']} run (no server LLM is tuned)")
            continue
        ax.plot(xs, ys, marker="o")
        if key in ("llm_task_accuracy", "mean_quality"):
            ax.set_ylim(0, 1)
        else:
            _honest_range(ax, ys)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
    fig.tight_layout()
    png = out / "report.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    lines = [
        f"# CrossLM run ({summary['method']})",
        "",
        "![report](report.png)",
        "",
        "| round | SLM mean acc | LLM task acc | LLM ppl | clients ok/sampled | accepted | round s |",
        "|---|---|---|---|---|---|---|",
    ]
    ini = summary.get("initial", {})
    if ini:
        lines.append(
            f"| 0 | | {ini.get('llm_task_accuracy', float('nan')):.3f} | "
            f"{ini.get('llm_general_ppl', float('nan')):.2f} | | | |"
        )
    for r in rounds:
        lines.append(
            f"| {r['round']} | {r['slm_mean_accuracy']:.3f} | {r.get('llm_task_accuracy', float('nan')):.3f}"
            f" | {r.get('llm_general_ppl', float('nan')):.2f} | {r['num_ok']}/{r['num_sampled']} | "
            f"{r.get('accepted', '')} | {r['time']['round_s']:.1f} |"
        )
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return png
