"""bench.md (tables quoted by the package README), bench.png and the terminal summary, from bench.json."""

from __future__ import annotations

from typing import Any

SYSTEMS = ("sharelm", "presidio", "anonymization")


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _build_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "| build stages | redaction | conversations | conv/s (wall) | conv per CPU s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    rows = results.get("stages", []) + [
        dict(x, stage=f"{x['stage']} (scaling)") for x in results.get("scaling", [])
    ]
    for s in rows:
        lines.append(
            f"| {s['stage']} | {s.get('redaction', 'pure Python')} | {s['conversations_in']:,} "
            f"| {s['conv_per_s']:,.0f} "
            f"| {s['conv_per_cpu_s']:,.0f} | {s['peak_rss_mb']:,.0f} |"
        )
    return lines if rows else []


def _speed_lines(red: dict[str, Any]) -> list[str]:
    lines = [
        f"Redaction of the same {red['texts']:,} generated conversation texts "
        f"(~{red['mean_chars']:,} characters each, 5% holding a PII value), one process, CPU time:",
        "",
        "| redactor | CPU µs per text | characters per CPU s |",
        "|---|---:|---:|",
    ]
    for name in SYSTEMS:
        if name in red:
            lines.append(f"| {name} | {red[name]['us_per_text']:,} | {red[name]['chars_per_cpu_s']:,} |")
    lines += [
        "",
        f"sharelm is **{red['speedup_vs_presidio']}x** faster than Presidio, "
        f"**{red['speedup']}x** than anonymization.",
    ]
    return lines


def _type_lines(cmp: dict[str, Any]) -> list[str]:
    systems = [s for s in SYSTEMS if s in cmp["systems"]]
    first_tier = set(cmp["first_tier_types"])
    types = sorted(cmp["systems"]["sharelm"]["per_type"], key=lambda t: (t in first_tier, t))
    head = " | ".join(f"{s} P | {s} R" for s in systems)
    lines = [
        f"Labelled set: {cmp['examples']:,} sentences, {cmp['per_kind']} per type and per look-alike kind, "
        f"plus {4 * cmp['per_kind']} ordinary chat lines. Presidio: {cmp.get('presidio_setup', '?')}, "
        "default threshold.",
        "",
        f"| type | {head} |",
        "|---|" + "---:|" * (2 * len(systems)),
    ]
    for t in types:
        cells = []
        for s in systems:
            v = cmp["systems"][s]["per_type"].get(t, {})
            cells += [_f(v.get("precision")), _f(v.get("recall"))]
        lines.append(f"| {t}{' (first tier)' if t in first_tier else ''} | " + " | ".join(cells) + " |")
    for label, key in (
        ("all look-alikes kept", "lookalikes_kept"),
        ("first-tier look-alikes kept", "first_tier_lookalikes_kept"),
        ("ordinary chat lines kept", "ordinary_lines_kept"),
    ):
        lines.append(
            f"| *{label}* | " + " | ".join(f"{_f(cmp['systems'][s][key], 3)} | " for s in systems) + ""
        )
    lines += [
        "",
        "Precision is blank (–) where a system redacted nothing of that type and no look-alike of it.",
        "",
    ]
    lines += [
        "| look-alike kind: share changed | " + " | ".join(systems) + " |",
        "|---|" + "---:|" * len(systems),
    ]
    for kind in cmp["systems"]["sharelm"]["lookalike_change_rate"]:
        lines.append(
            f"| {kind} | "
            + " | ".join(_f(cmp["systems"][s]["lookalike_change_rate"][kind]) for s in systems)
            + " |"
        )
    errors = {s: cmp["systems"][s]["errors"] for s in systems if cmp["systems"][s]["errors"]}
    if errors:
        lines += ["", f"Inputs a system raised on (its text counted as unchanged): {errors}."]
    return lines


def _first_tier_lines(pii: dict[str, Any]) -> list[str]:
    lines = [
        f"First-tier benchmark, unchanged ({pii['examples']:,} sentences, its own scoring):",
        "",
        "| redactor | scope | precision | recall |",
        "|---|---|---:|---:|",
    ]
    for name in ("sharelm", "anonymization"):
        for scope, label in (("all_types", "all 10 types"), ("baseline_types", "the 7 anonymization covers")):
            o = pii[name][scope]["overall"]
            lines.append(f"| {name} | {label} | {o['precision']:.3f} | {o['recall']:.3f} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Machine: {results.get('cpus')} CPUs, load average {results.get('load_average_at_start', 0):.1f} "
        f"at the start, process pinned to CPUs {results.get('cpu_affinity')} (a shared machine: wall-clock "
        "rates suffer from other processes, CPU-second rates much less).",
        "",
    ]
    if results.get("merged_from_earlier_run"):
        lines += [
            f"Kept from the previous run (`--merge`): {', '.join(results['merged_from_earlier_run'])}.",
            "",
        ]
    lines += _build_lines(results)
    for key, fn in (
        ("redaction_speed", _speed_lines),
        ("pii_compare", _type_lines),
        ("pii_eval", _first_tier_lines),
    ):
        if results.get(key):
            lines += ["", *fn(results[key])]
    lang = results.get("language_eval")
    if lang:
        lines += [
            "",
            f"Language tagging on all {lang['dialogs']:,} ChatterBot dialogs: accuracy "
            f"**{lang['accuracy_supported_languages']:.3f}** over the languages lingua knows "
            f"({lang['cpu_us_per_dialog']:,} CPU µs a dialog); per language:",
            "",
            " ".join(f"{k} {v:.2f}," for k, v in lang["per_language"].items()).rstrip(","),
        ]
    return "\n".join(lines) + "\n"


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        f"{s['stage']:<30} {s['conversations_in']:>9,} conv  {s['conv_per_s']:>9,.0f} conv/s "
        f"({s['conv_per_cpu_s']:,.0f} per CPU s)  peak {s['peak_rss_mb']:,.0f} MB"
        for s in results.get("stages", []) + results.get("scaling", [])
    ]
    red = results.get("redaction_speed")
    if red:
        lines.append(
            "redaction chars per CPU s: "
            + ", ".join(f"{n} {red[n]['chars_per_cpu_s']:,}" for n in SYSTEMS if n in red)
            + f" (sharelm {red['speedup_vs_presidio']}x Presidio, {red['speedup']}x anonymization)"
        )
    cmp = results.get("pii_compare")
    for name in SYSTEMS if cmp else ():
        per = cmp["systems"][name]["per_type"]
        worst = min(per, key=lambda t: per[t]["recall"] or 0)
        lines.append(
            f"PII {name:<14} lowest recall {worst} {_f(per[worst]['recall'])}; look-alikes kept "
            f"{_f(cmp['systems'][name]['lookalikes_kept'], 3)}"
        )
    return lines


def plot(results: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    stages = results.get("stages", []) + results.get("scaling", [])
    ax = axes[0]
    ax.barh(
        [f"{s['stage']}\n({s['conversations_in']:,})" for s in stages], [s["conv_per_cpu_s"] for s in stages]
    )
    ax.tick_params(axis="y", labelsize=7)
    ax.axvline(10_000, color="red", linestyle="--", label="aim: 10k conv per CPU s")
    ax.set_title("build throughput (conversations per CPU second)")
    ax.legend()
    red = results.get("redaction_speed", {})
    ax = axes[1]
    if red:
        names = [n for n in SYSTEMS if n in red]
        ax.bar(names, [red[n]["chars_per_cpu_s"] for n in names], color=["#4C72B0", "#DD8452", "#C44E52"])
        ax.set_yscale("log")
        ax.axhline(1e6, color="red", linestyle="--", label="aim: 1M chars/s")
        ax.set_title("redaction speed (characters per CPU second, log)")
        ax.legend()
    cmp = results.get("pii_compare")
    ax = axes[2]
    if cmp:
        types = sorted(cmp["systems"]["sharelm"]["per_type"])
        width = 0.27
        for i, name in enumerate(SYSTEMS):
            per = cmp["systems"][name]["per_type"]
            ax.barh(
                [j + i * width for j in range(len(types))],
                [per[t]["recall"] or 0 for t in types],
                width,
                label=name,
            )
        ax.set_yticks([j + width for j in range(len(types))], types, fontsize=7)
        ax.set_xlim(0, 1.05)
        ax.set_title("recall by type on the labelled set")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
