"""Time and peak memory (with weights) against total length, SharedLLM vs the baselines, as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "sharedllm": ("SharedLLM", "tab:blue", "o"),
    "base": ("base, full attention (SDPA)", "tab:red", "s"),
    "truncated": ("base truncated to the window", "tab:gray", "^"),
}


def plot_rows(rows, path: Path, title: str) -> Path:
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, (label, color, marker) in STYLE.items():
        ok = sorted((r for r in rows if r.model == kind and r.status == "ok"), key=lambda r: r.length)
        if not ok:
            continue
        lengths = [r.length for r in ok]
        ax_time.plot(
            lengths, [r.prefill_seconds for r in ok], marker=marker, color=color, label=f"{label}, wall"
        )
        ax_time.plot(
            lengths,
            [r.prefill_cpu_seconds for r in ok],
            marker=marker,
            color=color,
            ls="--",
            alpha=0.6,
            label=f"{label}, CPU time",
        )
        ax_mem.plot(lengths, [r.total_mib for r in ok], marker=marker, color=color, label=label)
        for r in rows:
            if r.model == kind and r.status == "oom":
                ax_mem.axvline(r.length, color=color, linestyle=":", alpha=0.6)
    for ax, ylabel in ((ax_time, "forward pass (s)"), (ax_mem, "peak memory with weights (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("total tokens (context + running text)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
