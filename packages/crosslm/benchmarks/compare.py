"""Standalone, FedAvg, data-free KD and CrossLM side by side: each a real Flower-on-Ray run, same data.

Results (JSON, a markdown table, a PNG) go to the bench's out folder; nothing here asserts a number.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from rich.console import Console

from crosslm.config import RunConfig
from crosslm.runner import run

METHODS = ("standalone", "fedavg", "kd", "crosslm")
console = Console()


def compare(
    name: str, base: RunConfig, clients: int, out: Path, methods=METHODS, ray_cpus: int | None = 2
) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for method in methods:
        cfg = base.replace(method=method, out_dir=str(out / "runs" / method))
        console.print(f"[bold]{name}[/bold]: {method} ({clients} clients x {cfg.num_rounds} rounds)")
        start = time.perf_counter()
        summary = run(cfg, clients, 1.0, ray_cpus=ray_cpus, on_round=_print_round)
        results[method] = _digest(summary, time.perf_counter() - start)
        if method == "crosslm":
            shutil.copy(Path(cfg.out_dir) / "report.png", out / "crosslm-report.png")
            shutil.copy(Path(cfg.out_dir) / "metrics.json", out / "crosslm-metrics.json")
    table = {"bench": name, "clients": clients, "rounds": base.num_rounds, "methods": results}
    (out / "results.json").write_text(json.dumps(table, indent=1))
    (out / "results.md").write_text(markdown(table))
    plot(table, out / "results.png")
    console.print(markdown(table))
    return table


def _print_round(rec: dict) -> None:
    llm = (
        f" LLM acc {rec['llm_task_accuracy']:.3f} ppl {rec['llm_general_ppl']:.2f}"
        if "llm_task_accuracy" in rec
        else ""
    )
    acc, secs = rec["slm_mean_accuracy"], rec["time"]["round_s"]
    console.print(f"  round {rec['round']}: SLM mean acc {acc:.3f}{llm} ({secs:.1f} s)")


def _digest(summary: dict, wall: float) -> dict:
    last = summary["rounds"][-1]
    initial = summary.get("initial", {})
    return {
        "slm_accuracy": {str(c["partition_id"]): c["test_accuracy"] for c in last["clients"]},
        "slm_mean_accuracy": last["slm_mean_accuracy"],
        "slm_mean_by_round": [r["slm_mean_accuracy"] for r in summary["rounds"]],
        "llm_task_accuracy_before": initial.get("llm_task_accuracy"),
        "llm_task_accuracy_after": last.get("llm_task_accuracy"),
        "llm_general_ppl_before": initial.get("llm_general_ppl"),
        "llm_general_ppl_after": last.get("llm_general_ppl"),
        "accepted": [r.get("accepted") for r in summary["rounds"]],
        "wall_s": wall,
    }


def _f(x, fmt=".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def markdown(table: dict) -> str:
    methods = table["methods"]
    pids = sorted({p for m in methods.values() for p in m["slm_accuracy"]}, key=int)
    head = (
        "| method | "
        + " | ".join(f"client {p}" for p in pids)
        + " | SLM mean | LLM acc before -> after | LLM ppl before -> after | wall s |"
    )
    lines = [
        f"### {table['bench']} ({table['clients']} clients x {table['rounds']} rounds)",
        "",
        head,
        "|" + "---|" * (len(pids) + 5),
    ]
    for name, m in methods.items():
        accs = " | ".join(_f(m["slm_accuracy"].get(p)) for p in pids)
        lines.append(
            f"| {name} | {accs} | **{_f(m['slm_mean_accuracy'])}** | "
            f"{_f(m['llm_task_accuracy_before'])} -> {_f(m['llm_task_accuracy_after'])} | "
            f"{_f(m['llm_general_ppl_before'], '.2f')} -> {_f(m['llm_general_ppl_after'], '.2f')} | "
            f"{m['wall_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = table["methods"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    pids = sorted({p for m in methods.values() for p in m["slm_accuracy"]}, key=int)
    width = 0.8 / max(1, len(methods))
    for i, (name, m) in enumerate(methods.items()):
        xs = [j + i * width for j in range(len(pids) + 1)]
        ys = [m["slm_accuracy"].get(p, float("nan")) for p in pids] + [m["slm_mean_accuracy"]]
        axes[0].bar(xs, ys, width, label=name)
    axes[0].set_xticks(
        [j + 0.4 - width / 2 for j in range(len(pids) + 1)], [f"c{p}" for p in pids] + ["mean"]
    )
    axes[0].set(title=f"{table['bench']}: SLM test accuracy (final round)", ylim=(0, 1))
    axes[0].legend(fontsize=8)
    for name, m in methods.items():
        axes[1].plot(
            range(1, len(m["slm_mean_by_round"]) + 1), m["slm_mean_by_round"], marker="o", label=name
        )
    axes[1].set(title="SLM mean accuracy per round", xlabel="round")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
