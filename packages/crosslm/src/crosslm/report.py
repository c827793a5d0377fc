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


def write_report(out_dir: str | Path) -> Path:
    """report.png + report.md next to metrics.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    axes[0].legend(fontsize=7)
    for ax, key, title in (
        (axes[1], "llm_task_accuracy", "LLM task accuracy"),
        (axes[2], "llm_general_ppl", "LLM general perplexity"),
    ):
        xs, ys = _series(summary, key)
        if xs:
            ax.plot(xs, ys, marker="o")
        ax.set(title=title, xlabel="round (0 = before)")
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
