"""The ChatterBot suite (real dialogs, one seed) and the scale suite (10 and 100 simulated clients)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from controlled import SETTINGS, console, flower_cell
from world import make_world

from crosslm.config import RunConfig
from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier, materialize
from crosslm.runner import run
from sharelm.export import save_dataset

METHODS = ("standalone", "fedavg", "kd", "kd-filtered", "crosslm")


def chatterbot(out: Path, clients: int = 4, rounds: int = 3, seed: int = 0) -> dict:
    """Real dialogs: the ChatterBot corpus imported through sharelm, topic task, Dirichlet non-IID.

    The tiny LLM and the SLMs' tokenizers are built from the server's public share only (20% of the
    dialogs, held out before partitioning): no client's dialog reaches the LLM.
    """
    from sharelm.sources.chatterbot import load_corpus

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    save_dataset(list(load_corpus(("english",))), data / "export")
    base = RunConfig.from_mapping(
        {
            **SETTINGS,
            "data-path": str(data / "export"),
            "llm": "tiny:llama",
            "public-fraction": 0.2,
            "slms": "tiny:bert,tiny:gpt2",
            "num-rounds": rounds,
            "min-clients": clients,
            "partition-by": "dirichlet",
            "dirichlet-alpha": 0.5,
            "samples-per-label": 8,
            "threshold": 0.15,  # 21 labels: chance is 0.05
            "server-test-fraction": 0.05,  # the LLM scores every text under all 21 labels
            "seed": seed,
            "out-dir": str(out),
        }
    )
    base = materialize(base, data / "models", progress=True)
    results = {}
    for method in METHODS:
        cfg = base.replace(method=method, out_dir=str(out / "runs" / method))
        results[method] = flower_cell(cfg, None)  # Standalone too: one pipeline for the real corpus
        console.print(f"chatterbot {method}: SLM mean {results[method]['slm_mean_accuracy']:.3f}")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    lines = [
        "| method | SLM mean acc | worst client | LLM acc before -> after | LLM ppl before -> after |",
        "|---|---|---|---|---|",
    ]
    for m, r in results.items():
        llm = ppl = "n/a"
        if r.get("llm_task_accuracy_after") is not None:
            llm = f"{r['llm_task_accuracy_before']:.3f} -> {r['llm_task_accuracy_after']:.3f}"
            ppl = f"{r['llm_general_ppl_before']:.2f} -> {r['llm_general_ppl_after']:.2f}"
        lines.append(
            f"| {m} | {r['slm_mean_accuracy']:.3f} | {min(r['slm_accuracy'].values()):.3f} | {llm} | {ppl} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return results


def scale(out: Path, sizes: tuple[int, ...] = (10, 100), rounds: int = 2, seed: int = 0) -> dict:
    """Time per round at 10 and 100 clients, split into compute and Flower/Ray overhead.

    compute = server work (generate, enhance, evaluate) + the clients' summed compute / Ray concurrency;
    overhead = the rest of the round's wall time (scheduling, actors, messages, model loading by Flower).
    """
    world = make_world(num_topics=4, words_per_topic=40, seed=seed)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    save_dataset(world.conversations(20 * max(sizes), seed=seed + 1), data / "export")
    corpus = world.public_corpus(n_headed=600, n_general=200, header_noise=0.3, seed=seed + 3)
    llm = build_tiny_causal_lm(data / "llm", "gpt2", corpus, hidden=32, pretrain_epochs=1, seed=seed)
    slm = build_tiny_classifier(data / "slm", "bert", corpus, world.topics, hidden=16, seed=seed)
    concurrency = 2  # Ray's CPUs / 1 CPU per ClientApp on this 2-core machine
    rows = []
    for n in sizes:
        cfg = RunConfig.from_mapping(
            {
                **SETTINGS,
                "data-path": str(data / "export"),
                "task-labels": ",".join(world.topics),
                "llm": str(llm),
                "slms": str(slm),
                "num-rounds": rounds,
                "min-clients": n,
                "samples-per-label": 4,
                "slm-epochs": 1,
                "max-new-tokens": 8,
                "test-fraction": 0.3,
                "out-dir": str(out / f"runs-{n}"),
                "seed": seed,
            }
        )
        console.print(f"[bold]scale[/bold]: {n} clients x {rounds} rounds")
        start = time.perf_counter()
        summary = run(cfg, n, 1.0, ray_cpus=concurrency)
        for rec in summary["rounds"]:
            t = rec["time"]
            server = t["generate_s"] + t["enhance_s"] + t["evaluate_s"]
            clients = t["client_compute_sum_s"] / concurrency
            rows.append(
                {
                    "clients": n,
                    "round": rec["round"],
                    "ok": rec["num_ok"],
                    "round_s": t["round_s"],
                    "compute_s": server + clients,
                    "server_compute_s": server,
                    "client_compute_s": clients,
                    "overhead_s": t["round_s"] - server - clients,
                }
            )
        console.print(f"  {n} clients: {time.perf_counter() - start:.0f} s in all")
    result = {"bench": "scale", "concurrency": concurrency, "rows": rows}
    (out / "results.json").write_text(json.dumps(result, indent=1))
    lines = [
        "### Scale (tiny SLMs, CrossLM, time per round)",
        "",
        "| clients | round | clients ok | round s | compute s (server + clients/2) | Flower/Ray overhead s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['clients']} | {r['round']} | {r['ok']} | {r['round_s']:.1f} | {r['compute_s']:.1f} "
        f"({r['server_compute_s']:.1f} + {r['client_compute_s']:.1f}) | {r['overhead_s']:.1f} |"
        for r in rows
    ]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))
    return result
