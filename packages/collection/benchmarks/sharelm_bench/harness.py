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
from sharelm_bench.report import markdown, plot

Log = Callable[[str], None]
STEPS = ("speed", "pii", "language", "stages", "scaling")
PURE_TOO = ("validate+redact", "validate+redact+dedup")
STEP_KEYS = {  # bench.json key -> the steps that write it
    "redaction_speed": ("speed",), "pii_eval": ("pii",), "pii_compare": ("pii",),
    "language_eval": ("language",), "stages": ("stages",), "scaling": ("scaling",),
}  # fmt: skip
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


def accelerator_installed() -> bool:
    from sharelm.redaction import accel

    return accel.available()


def build_in_subprocess(data: Path, out_dir: Path, stage: str, pure: bool = False) -> dict[str, Any]:
    output = out_dir / "built.jsonl"
    # The harness is not installed: the child finds it through PYTHONPATH (this folder's parent).
    path = os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.run(
        [sys.executable, "-m", "sharelm_bench.build_once", str(data), str(output), "--stage", stage]
        + (["--pure"] if pure else []),
        capture_output=True,
        text=True,
        env=env,
    )
    output.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed ({stage}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def redaction_speed(data: Path, n_texts: int, log: Log, repeats: int = 3) -> dict[str, Any]:
    """CPU time per ~1 KB conversation text for each system, on the same texts (best of `repeats` runs for
    the fast ones; Presidio once, it is slow enough to measure in one pass)."""
    from sharelm_bench.systems import SYSTEMS

    texts = []
    for conv in read_jsonl(data):
        texts.append("\n".join(m.content for m in conv.conversation))
        if len(texts) >= n_texts:
            break
    chars = sum(map(len, texts))
    result: dict[str, Any] = {"texts": len(texts), "mean_chars": round(statistics.mean(map(len, texts)))}
    for name, make in SYSTEMS.items():
        fn = make()
        fn(texts[0])  # warm up: lazy loading (lexicon, recognizers) is not redaction time
        log(f"redaction speed: {name} on {len(texts)} texts")
        best = float("inf")
        for _ in range(1 if name == "presidio" else repeats):
            t = time.process_time()
            for text in texts:
                fn(text)
            best = min(best, time.process_time() - t)
        result[name] = {
            "us_per_text": round(best / len(texts) * 1e6, 1),
            "texts_per_cpu_s": round(len(texts) / best),
            "chars_per_cpu_s": round(chars / best),
        }
    ours = result["sharelm"]["us_per_text"]
    result["speedup"] = round(result["anonymization"]["us_per_text"] / ours, 1)
    result["speedup_vs_presidio"] = round(result["presidio"]["us_per_text"] / ours, 1)
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


def run_bench(
    sizes: list[int],
    out_dir: Path,
    *,
    stage_size: int | None = None,
    language_size: int = 10_000,
    pii_per_type: int = 200,
    redaction_texts: int = 1_000,
    steps: list[str] | tuple[str, ...] = STEPS,
    keep_data: bool = False,
    data_dir: Path | None = None,
    merge: bool = False,
    log: Log = print,
) -> dict[str, Any]:
    from sharelm_bench.build_once import STAGES
    from sharelm_bench.pii_compare import compare_all
    from sharelm_bench.pii_eval import compare

    out_dir.mkdir(parents=True, exist_ok=True)
    # Generated data (1.6 GB at 1M) and build outputs go to scratch space, not next to the results.
    data_dir = data_dir or Path(tempfile.gettempdir()) / "sharelm-bench"
    data_dir.mkdir(parents=True, exist_ok=True)
    stage_size = stage_size or min(sizes)
    previous = out_dir / "bench.json"
    # --merge: the steps not run now keep their figures from the last run (say so in bench.md)
    kept = json.loads(previous.read_text()) if merge and previous.exists() else {}
    results: dict[str, Any] = {
        **{k: v for k, v in kept.items() if k in STEP_KEYS and not set(STEP_KEYS[k]) & set(steps)},
        "merged_from_earlier_run": sorted(
            k for k in kept if k in STEP_KEYS and not set(STEP_KEYS[k]) & set(steps)
        ),
        "sizes": sizes,
        "stage_size": stage_size,
        "language_size": min(stage_size, language_size),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
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
        log("labelled PII evaluation (first tier, as before)")
        results["pii_eval"] = compare(pii_per_type)
        results["pii_compare"] = compare_all(pii_per_type, log=log)
    if "language" in steps:
        log("language tagging on the ChatterBot corpus")
        results["language_eval"] = language_eval()
    save()
    if "stages" in steps:
        results["stages"] = []
    for stage in STAGES if "stages" in steps else ():
        # Language tagging is two orders of magnitude slower than the rest: a smaller prefix of the data.
        n = min(stage_size, language_size) if "language" in stage else stage_size
        log(f"build {stage} on {n:,}")
        results["stages"].append(build_in_subprocess(data[n], data_dir, stage))
        save()
    # With the [fast] extra installed, the redacting stages again without it: the pure-Python figures.
    for stage in PURE_TOO if "stages" in steps and accelerator_installed() else ():
        log(f"build {stage} on {stage_size:,}, pure Python")
        results["stages"].append(build_in_subprocess(data[stage_size], data_dir, stage, pure=True))
        save()
    if "scaling" in steps:
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
