"""The collection benchmark (`benchmarks/run.py`): build throughput and peak memory on generated
collections, redaction speed and per-type accuracy next to Presidio and `anonymization`."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sharelm.io import read_jsonl, write_jsonl
from sharelm_bench.generate import generate

Log = Callable[[str], None]
STEPS = ("speed", "pii", "language", "stages", "scaling")
BENCH_DIR = Path(__file__).resolve().parents[1]  # packages/collection/benchmarks


def dataset(n: int, out_dir: Path, log: Log, seed: int = 0) -> Path:
    path = out_dir / f"generated-{n}-seed{seed}.jsonl"
    if path.exists():
        log(f"reusing {path}")
        return path
    log(f"generating {n:,} conversations -> {path}")
    tmp = path.with_suffix(".partial")
    write_jsonl(generate(n, seed=seed), tmp)
    tmp.rename(path)
    return path


def build_in_subprocess(data: Path, out_dir: Path, stage: str) -> dict[str, Any]:
    output = out_dir / "built.jsonl"
    # The harness is not installed: the child finds it through PYTHONPATH (this folder's parent).
    path = os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.run(
        [sys.executable, "-m", "sharelm_bench.build_once", str(data), str(output), "--stage", stage],
        capture_output=True,
        text=True,
        env=env,
    )
    output.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed ({stage}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def redaction_speed(data: Path, n_texts: int, log: Log) -> dict[str, Any]:
    """CPU time per ~1 KB conversation text, ours vs anonymization, on the same texts."""
    from sharelm_bench.pii_eval import baseline, ours

    texts = []
    for conv in read_jsonl(data):
        texts.append("\n".join(m.content for m in conv.conversation))
        if len(texts) >= n_texts:
            break
    result: dict[str, Any] = {"texts": len(texts), "mean_chars": round(statistics.mean(map(len, texts)))}
    for name, fn in (("sharelm", ours()), ("anonymization", baseline())):
        log(f"redaction speed: {name} on {len(texts)} texts")
        t = time.process_time()
        for text in texts:
            fn(text)
        cpu = time.process_time() - t
        result[name] = {
            "us_per_text": round(cpu / len(texts) * 1e6, 1),
            "texts_per_cpu_s": round(len(texts) / cpu),
        }
    result["speedup"] = round(result["anonymization"]["us_per_text"] / result["sharelm"]["us_per_text"], 1)
    return result


def language_eval() -> dict[str, Any]:
    """Accuracy of the tagger on every ChatterBot dialog, per language (labels: the corpus' directories)."""
    from collections import Counter

    from sharelm.language import LanguageTagger, sample_text
    from sharelm.sources.chatterbot import load_corpus

    convs = list(load_corpus(["all"]))
    expected = [c.conversation_metadata.language for c in convs]
    t = time.process_time()
    found = LanguageTagger().detect([sample_text(c) for c in convs])
    cpu = time.process_time() - t
    total, hits = Counter(expected), Counter(e for e, f in zip(expected, found, strict=True) if e == f)
    per_language = {lang: round(hits[lang] / n, 3) for lang, n in sorted(total.items())}
    supported = [lang for lang in total if lang not in ("Hinglish", "Oriya")]
    return {
        "dialogs": len(convs),
        "accuracy_supported_languages": round(
            sum(hits[x] for x in supported) / sum(total[x] for x in supported), 4
        ),
        "unsupported_by_lingua": ["Hinglish", "Oriya"],
        "per_language": per_language,
        "cpu_us_per_dialog": round(cpu / len(convs) * 1e6),
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    stages = results.get("stages", [])
    ax = axes[0, 0]
    ax.barh(
        [f"{s['stage']}\n({s['conversations_in']:,} conv)" for s in stages],
        [s["conv_per_cpu_s"] for s in stages],
        color="#4C72B0",
    )
    ax.tick_params(axis="y", labelsize=8)
    ax.axvline(10_000, color="red", linestyle="--", label="aim: 10k conv/s")
    ax.set_title("build throughput (conversations per CPU second)")
    ax.legend()
    ax = axes[0, 1]
    scale = results.get("scaling", [])
    bars = ax.bar(
        [f"{s['conversations_in']:,}" for s in scale], [s["peak_rss_mb"] for s in scale], color="#55A868"
    )
    for bar, s in zip(bars, scale, strict=True):
        top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        ax.annotate(f"{s['conv_per_cpu_s']:,.0f} conv/CPU-s", top, ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("peak RSS (MB)")
    ax.set_title("peak memory, validate + redact + dedup")
    red = results.get("redaction_speed", {})
    ax = axes[1, 0]
    if red:
        names = ["sharelm", "anonymization"]
        ax.bar(names, [red[n]["us_per_text"] for n in names], color=["#4C72B0", "#C44E52"])
        ax.set_yscale("log")
        ax.set_ylabel("CPU µs per ~1 KB text (log)")
        ax.set_title(f"redaction speed: sharelm {red['speedup']}x faster")
    pii = results.get("pii_eval", {})
    ax = axes[1, 1]
    if pii:
        labels, vals, colors = [], [], []
        for name, color in (("sharelm", "#4C72B0"), ("anonymization", "#C44E52")):
            for scope in ("all_types", "baseline_types"):
                o = pii[name][scope]["overall"]
                labels += [f"{name}\n{scope}\nprecision", f"{name}\n{scope}\nrecall"]
                vals += [o["precision"], o["recall"]]
                colors += [color, color]
        ax.bar(range(len(vals)), vals, color=colors)
        ax.set_xticks(range(len(vals)), labels, fontsize=6)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"labelled PII set ({pii['examples']} examples)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(results: dict[str, Any]) -> str:
    """The figures as Markdown tables (bench.md; the package README quotes them)."""
    lines = [
        f"Machine: {results.get('cpus')} CPUs, load average {results.get('load_average_at_start', 0):.1f} "
        "at the start (a shared machine: wall-clock rates suffer from other processes, "
        "CPU-second rates much less).",
        "",
        "| build stages | conversations | conv/s (wall) | conv per CPU s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in results.get("stages", []) + [
        dict(x, stage=f"{x['stage']} (scaling)") for x in results.get("scaling", [])
    ]:
        lines.append(
            f"| {s['stage']} | {s['conversations_in']:,} | {s['conv_per_s']:,.0f} "
            f"| {s['conv_per_cpu_s']:,.0f} | {s['peak_rss_mb']:,.0f} |"
        )
    red = results.get("redaction_speed")
    if red:
        lines += [
            "",
            f"Redaction of the same {red['texts']:,} generated texts "
            f"(~{red['mean_chars']:,} characters each):",
            "",
            "| redactor | CPU µs per text | texts per CPU s |",
            "|---|---:|---:|",
            f"| sharelm | {red['sharelm']['us_per_text']} | {red['sharelm']['texts_per_cpu_s']:,} |",
            f"| anonymization (ShareLM backend chain) | {red['anonymization']['us_per_text']} "
            f"| {red['anonymization']['texts_per_cpu_s']:,} |",
            "",
            f"sharelm is **{red['speedup']}x** faster.",
        ]
    pii = results.get("pii_eval")
    if pii:
        lines += [
            "",
            f"Labelled PII set: {pii['examples']:,} sentences, "
            f"{pii['per_type']} per PII type and per look-alike kind.",
            "",
            "| redactor | scope | precision | recall | TP | FN | FP | TN |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name in ("sharelm", "anonymization"):
            for scope, label in (
                ("all_types", "all 10 types"),
                ("baseline_types", "the 7 types anonymization covers"),
            ):
                o = pii[name][scope]["overall"]
                lines.append(
                    f"| {name} | {label} | {o['precision']:.3f} | {o['recall']:.3f} | {o['tp']} | {o['fn']} "
                    f"| {o['fp']} | {o['tn']} |"
                )
        kinds = sorted(pii["anonymization"]["all_types"]["recall_by_type"])
        lines += ["", "| recall by type | sharelm | anonymization |", "|---|---:|---:|"]
        for k in kinds:
            lines.append(
                f"| {k} | {pii['sharelm']['all_types']['recall_by_type'][k]:.2f} "
                f"| {pii['anonymization']['all_types']['recall_by_type'][k]:.2f} |"
            )
        fp = pii["anonymization"]["all_types"]["false_positive_rate_by_lookalike"]
        lines += ["", "| false positives on look-alikes | sharelm | anonymization |", "|---|---:|---:|"]
        ours_fp = pii["sharelm"]["all_types"]["false_positive_rate_by_lookalike"]
        for k in sorted(fp):
            lines.append(f"| {k} | {ours_fp[k]:.2f} | {fp[k]:.2f} |")
        if "crashes" in pii["anonymization"]:
            lines += [
                "",
                f"anonymization's IbanAnonymizer raised TypeError {pii['anonymization']['crashes']} times.",
            ]
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


def run_bench(
    sizes: list[int],
    out_dir: Path,
    *,
    stage_size: int | None = None,
    language_size: int = 10_000,
    pii_per_type: int = 200,
    redaction_texts: int = 2_000,
    steps: list[str] | tuple[str, ...] = STEPS,
    keep_data: bool = False,
    data_dir: Path | None = None,
    log: Log = print,
) -> dict[str, Any]:
    from sharelm_bench.build_once import STAGES
    from sharelm_bench.pii_eval import compare

    out_dir.mkdir(parents=True, exist_ok=True)
    # Generated data (1.6 GB at 1M) and build outputs go to scratch space, not next to the results.
    data_dir = data_dir or Path(tempfile.gettempdir()) / "sharelm-bench"
    data_dir.mkdir(parents=True, exist_ok=True)
    stage_size = stage_size or min(sizes)
    results: dict[str, Any] = {
        "sizes": sizes,
        "stage_size": stage_size,
        "language_size": min(stage_size, language_size),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
    }
    needed = {stage_size} if {"speed", "stages"} & set(steps) else set()
    needed |= set(sizes) if "scaling" in steps else set()
    needed |= {min(stage_size, language_size)} if "stages" in steps else set()
    data = {n: dataset(n, data_dir, log) for n in sorted(needed)}

    def save() -> None:  # after every step: a long run that stops early still leaves its figures
        (out_dir / "bench.json").write_text(json.dumps(results, indent=2))

    if "speed" in steps:
        results["redaction_speed"] = redaction_speed(data[stage_size], redaction_texts, log)
    if "pii" in steps:
        log("labelled PII evaluation")
        results["pii_eval"] = compare(pii_per_type)
    if "language" in steps:
        log("language tagging on the ChatterBot corpus")
        results["language_eval"] = language_eval()
    save()
    results["stages"] = []
    for stage in STAGES if "stages" in steps else ():
        # Language tagging is two orders of magnitude slower than the rest: a smaller prefix of the data.
        n = min(stage_size, language_size) if "language" in stage else stage_size
        log(f"build {stage} on {n:,}")
        results["stages"].append(build_in_subprocess(data[n], data_dir, stage))
        save()
    results["scaling"] = []
    for n in sizes if "scaling" in steps else ():
        log(f"build validate+redact+dedup on {n:,}")
        results["scaling"].append(build_in_subprocess(data[n], data_dir, "validate+redact+dedup"))
        save()
    plot(results, out_dir / "bench.png")
    (out_dir / "bench.md").write_text(markdown(results))
    if not keep_data:
        for path in data.values():
            path.unlink(missing_ok=True)
    return results


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The headline figures for the terminal."""
    lines = [
        f"{s['stage']:<30} {s['conversations_in']:>9,} conv  {s['conv_per_s']:>9,.0f} conv/s "
        f"({s['conv_per_cpu_s']:,.0f} per CPU s)  peak {s['peak_rss_mb']:,.0f} MB"
        for s in results.get("stages", []) + results.get("scaling", [])
    ]
    red = results.get("redaction_speed")
    if red:
        lines.append(
            f"redaction: sharelm {red['sharelm']['us_per_text']} µs/text, anonymization "
            f"{red['anonymization']['us_per_text']} µs/text ({red['speedup']}x)"
        )
    pii = results.get("pii_eval")
    for name in ("sharelm", "anonymization") if pii else ():
        o = pii[name]["all_types"]["overall"]
        lines.append(f"PII {name:<14} all types P={o['precision']:.3f} R={o['recall']:.3f}")
    return lines
