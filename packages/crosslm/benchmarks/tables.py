"""The multi-seed tables (markdown + JSON) and plots of the controlled bench, with the issue's goals."""

from __future__ import annotations

import json
import math
from pathlib import Path

from stats import fmt, mean_ci, paired_diff

NAMES = {
    "standalone": "Standalone",
    "fedavg": "FedAvg (all BERT)",
    "kd": "data-free KD",
    "kd-filtered": "KD, LLM-filtered",
    "crosslm": "CrossLM",
    "centralised": "centralised (upper bound: each architecture on the union)",
}


def _by(cells: list[dict], alpha: float, method: str) -> list[dict]:
    return sorted(
        (c for c in cells if c["alpha"] == alpha and c["method"] == method), key=lambda c: c["seed"]
    )


def summarize(cells: list[dict]) -> dict:
    alphas = sorted({c["alpha"] for c in cells})
    methods = [m for m in NAMES if any(c["method"] == m for c in cells)]
    out: dict = {
        "alphas": alphas,
        "methods": methods,
        "seeds": sorted({c["seed"] for c in cells}),
        "rows": {},
    }
    for alpha in alphas:
        rows = {}
        for m in methods:
            cs = _by(cells, alpha, m)
            if not cs:
                continue
            accs = [c["slm_mean_accuracy"] for c in cs]
            worst = [min(c["slm_accuracy"].values()) for c in cs]
            row = {
                "n": len(cs),
                "slm": mean_ci(accs),
                "worst_client": mean_ci(worst),
                "worst_client_min": min(worst) if worst else math.nan,
                "precision": mean_ci([c["pool_label_precision"] for c in cs if "pool_label_precision" in c]),
                "wall_s": sum(c["wall_s"] for c in cs),
            }
            if m == "crosslm":
                before = [c["llm_task_accuracy_before"] for c in cs]
                after = [c["llm_task_accuracy_after"] for c in cs]
                ppl = [c["llm_general_ppl_after"] / c["llm_general_ppl_before"] - 1 for c in cs]
                row.update(
                    llm_before=mean_ci(before), llm_after=mean_ci(after), llm_gain=paired_diff(after, before)
                )
                row["ppl_change"] = mean_ci(ppl)
            rows[m] = row
        if "crosslm" in methods:
            ours = {c["seed"]: c["slm_mean_accuracy"] for c in _by(cells, alpha, "crosslm")}
            for m in methods:
                theirs = {c["seed"]: c["slm_mean_accuracy"] for c in _by(cells, alpha, m)}
                both = sorted(set(ours) & set(theirs))  # paired by seed
                if m != "crosslm" and both:
                    rows[m]["crosslm_minus"] = paired_diff([ours[k] for k in both], [theirs[k] for k in both])
        out["rows"][str(alpha)] = rows
    out["goals"] = goals(out)
    return out


def goals(s: dict) -> list[dict]:
    """The issue's goals, each met or missed, with the measured numbers."""
    res = []
    rows = s["rows"]

    def diff(alpha, m):
        return rows.get(str(alpha), {}).get(m, {}).get("crosslm_minus", (math.nan, math.nan))

    d, h = diff(0.5, "standalone")
    res.append(
        _goal(
            "CrossLM >= Standalone + 5 points at alpha 0.5, interval above 0", d, h, d >= 0.05 and d - h > 0
        )
    )
    best = max(
        ("fedavg", "kd-filtered"), key=lambda m: _nz(rows.get("0.5", {}).get(m, {}).get("slm", (-1,))[0])
    )
    d, h = diff(0.5, best)
    res.append(
        _goal(
            f"CrossLM >= best other baseline ({NAMES[best]}) + 2 points at alpha 0.5, interval above 0",
            d,
            h,
            d >= 0.02 and d - h > 0,
        )
    )
    for alpha in (0.1, 5.0):
        d, h = diff(alpha, "standalone")
        res.append(_goal(f"CrossLM not below Standalone at alpha {alpha}", d, h, d >= 0))
    for alpha in s["alphas"]:
        row = rows[str(alpha)].get("crosslm")
        if row:
            g, h = row["llm_gain"]
            res.append(_goal(f"LLM task accuracy +5 points over its start (alpha {alpha})", g, h, g >= 0.05))
            p, h = row["ppl_change"]
            res.append(
                _goal(f"LLM general perplexity at most 2% above its start (alpha {alpha})", p, h, p <= 0.02)
            )
    return res


def _nz(x: float) -> float:
    return -1.0 if x != x else x


def _goal(what: str, value: float, half: float, met: bool) -> dict:
    return {"goal": what, "value": value, "half": half, "met": bool(met)}


def markdown(s: dict) -> str:
    lines = [
        f"Seeds {s['seeds']}; mean ± 95% interval over seeds (Student t); worst client = the lowest client "
        "accuracy of a run, averaged over seeds (min over all runs in brackets); Δ = CrossLM minus the row, "
        "paired by seed.",
        "",
    ]
    for alpha in s["alphas"]:
        rows = s["rows"][str(alpha)]
        lines += [
            f"**Dirichlet alpha {alpha}**",
            "",
            "| method | SLM mean acc | Δ CrossLM − method | worst client | pool label precision | wall s |",
            "|---|---|---|---|---|---|",
        ]
        for m, r in rows.items():
            d = fmt(*r["crosslm_minus"]) if "crosslm_minus" in r else ""
            lines.append(
                f"| {NAMES[m]} | {fmt(*r['slm'])} | {d} | {fmt(*r['worst_client'])} "
                f"({r['worst_client_min']:.3f}) | {fmt(*r['precision'])} | {r['wall_s']:.0f} |"
            )
        if "crosslm" in rows:
            r = rows["crosslm"]
            lines += [
                "",
                f"CrossLM's LLM: task accuracy {fmt(*r['llm_before'])} -> {fmt(*r['llm_after'])} "
                f"(gain {fmt(*r['llm_gain'])}); general perplexity change "
                f"{100 * r['ppl_change'][0]:+.1f}% ± {100 * r['ppl_change'][1]:.1f}%",
            ]
        lines.append("")
    lines += ["**Goals**", "", "| goal | measured | met |", "|---|---|---|"]
    for g in s["goals"]:
        lines.append(f"| {g['goal']} | {fmt(g['value'], g['half'])} | {'yes' if g['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def plot(s: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods, alphas = s["methods"], s["alphas"]
    if not methods:  # no cell measured (e.g. every run skipped): nothing to draw
        return
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        for key, ax in (("slm", axes[0]), ("worst_client", axes[1])):
            ms = [s["rows"][str(a)].get(m, {}).get(key, (math.nan, math.nan)) for a in alphas]
            ax.bar(
                [j + i * width for j in range(len(alphas))],
                [v[0] for v in ms],
                width,
                yerr=[0 if v[1] != v[1] else v[1] for v in ms],
                capsize=2,
                label=NAMES[m],
            )
    for ax, title in ((axes[0], "SLM mean accuracy (final round)"), (axes[1], "worst client's accuracy")):
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(alphas))], [f"alpha {a}" for a in alphas])
        ax.set(title=f"{title}, 95% intervals", ylim=(0, 1))
    handles, labels = axes[0].get_legend_handles_labels()  # below the panels: it hides no bar
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    ax = axes[2]
    rows = [s["rows"][str(a)].get("crosslm") for a in alphas]
    if all(rows):
        for j, r in enumerate(rows):
            ax.errorbar(
                [j - 0.1, j + 0.1],
                [r["llm_before"][0], r["llm_after"][0]],
                yerr=[r["llm_before"][1], r["llm_after"][1]],
                marker="o",
                capsize=3,
                color="C4",
            )
        ax.set_xticks(range(len(alphas)), [f"alpha {a}\n(before, after)" for a in alphas])
        ax.set(title="CrossLM's LLM task accuracy, before -> after", ylim=(0, 1))
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "no CrossLM runs: no LLM to show", ha="center", va="center")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(s: dict, out: Path) -> None:
    (out / "results.json").write_text(json.dumps(s, indent=1))
    (out / "results.md").write_text(markdown(s))
    plot(s, out / "results.png")
