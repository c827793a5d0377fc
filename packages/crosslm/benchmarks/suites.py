"""The benchmark suites: the controlled synthetic world, ChatterBot, and the 100-client scale run."""

from __future__ import annotations

import json
import time
from pathlib import Path

from crosslm.bench.compare import METHODS, compare, console
from crosslm.bench.world import make_world
from crosslm.config import RunConfig
from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier, materialize
from crosslm.runner import run
from sharelm.export import save_dataset

# Shared by every suite: small enough for 2 CPU cores.
TINY = {
    "slm-epochs": 8,
    "slm-lr": 0.005,
    "llm-epochs": 2,
    "llm-lr": 0.003,
    "max-new-tokens": 14,
    "threshold": 0.35,  # above chance (0.25 for 4 labels): SLMs this small are unsure
    "regularizer": "lora",
    "round-timeout": 900.0,
}


def controlled(
    out: Path,
    clients: int = 6,
    rounds: int = 4,
    seed: int = 0,
    overrides: dict | None = None,
    methods=METHODS,
    data: Path | None = None,
) -> dict:
    """The synthetic world: LLM pretrained on mislabelled public text, small clean non-IID client sets.

    `data`: where the world's export and models go (default `out/data`; ablations share one).
    """
    world = make_world(num_topics=4, words_per_topic=24, seed=seed)
    world.topic_share = 0.5
    data = data or out / "data"
    data.mkdir(parents=True, exist_ok=True)
    save_dataset(world.conversations(60 * clients, seed=seed + 1), data / "export")
    general = data / "general.txt"
    general.write_text("\n".join(world.general_text(300, seed=seed + 2)) + "\n")
    corpus = world.public_corpus(n_headed=1600, n_general=400, header_noise=0.4, seed=seed + 3)
    llm = data / "llm"
    if not (llm / "config.json").exists():
        # Llama picks up the label header in a few epochs where a GPT-2 of this size does not (checked).
        build_tiny_causal_lm(
            llm, "llama", corpus, hidden=64, pretrain_epochs=5, lr=0.01, seed=seed, progress=True
        )
    texts = [c.split(" : ", 1)[-1] for c in corpus]
    slms = [
        str(build_tiny_classifier(data / f"slm-{fam}", fam, texts, world.topics, hidden=32, seed=seed + i))
        for i, fam in enumerate(("bert", "distilbert", "gpt2"))
    ]
    base = RunConfig.from_mapping(
        {
            **TINY,
            "data-path": str(data / "export"),
            "task-labels": ",".join(world.topics),
            "llm": str(llm),
            "slms": ",".join(slms),
            "general-text": str(general),
            "num-rounds": rounds,
            "min-clients": clients,
            "partition-by": "dirichlet",
            "dirichlet-alpha": 0.5,
            "test-fraction": 0.5,
            "server-test-fraction": 0.15,
            "samples-per-label": 40,
            "seed": seed,
            **(overrides or {}),
        }
    )
    table = compare("controlled synthetic world", base, clients, out, methods)
    # Only here can we judge labels: how clean is the synthetic pool each method's clients learned from?
    for method in ("kd", "crosslm"):
        state = out / "runs" / method / "checkpoint" / "state.json"
        if method in table["methods"] and state.exists():
            pool = json.loads(state.read_text())["pool"]
            table["methods"][method]["pool_label_precision"] = world.label_precision(pool)
            table["methods"][method]["pool_size"] = len(pool)
            console.print(
                f"{method}: final pool {len(pool)} samples, label precision {world.label_precision(pool):.3f}"
            )
    (out / "results.json").write_text(json.dumps(table, indent=1))
    return table


def chatterbot(out: Path, clients: int = 4, rounds: int = 3, seed: int = 0) -> dict:
    """Real dialogs: the ChatterBot corpus imported through sharelm, topic task, Dirichlet non-IID."""
    from sharelm.sources.chatterbot import load_corpus

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    save_dataset(list(load_corpus(("english",))), data / "export")
    base = RunConfig.from_mapping(
        {
            **TINY,
            "data-path": str(data / "export"),
            "llm": "tiny:llama",
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
    return compare("ChatterBot corpus (english, 21 topics)", base, clients, out)


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
                **TINY,
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
