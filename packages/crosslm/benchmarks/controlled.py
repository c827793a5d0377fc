"""The controlled synthetic world, over seeds and Dirichlet skews: every method side by side.

Per seed: a world, an LLM pretrained on that world's public text (few, noisily headed task documents and
general-domain text outside the task), client SLMs. Per (seed, alpha): FedAvg, data-free KD, KD filtered
by the LLM's own label scorer and CrossLM, each a real Flower-on-Ray run on the same silos; Standalone
(no federation: the clients' own round function, `crosslm.client.run_round`, called here with nothing
to learn from but their data, the same seeds as in the Flower runs) and a centralised upper bound (one
SLM on the union of the clients' private data). Each cell's
result is a JSON file: an interrupted bench resumes where it stopped.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch
from rich.console import Console
from world import World, make_world

from crosslm.client import run_round
from crosslm.config import ConfigError, RunConfig
from crosslm.data import load_task_examples, split_federation, write_silos
from crosslm.models.slm import ClientSLM
from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier
from crosslm.runner import run
from sharelm.export import save_dataset

FLOWER_METHODS = ("fedavg", "kd", "kd-filtered", "crosslm")
METHODS = ("standalone", *FLOWER_METHODS, "centralised")
console = Console()

# Small enough for 2 CPU cores; the same for every method.
SETTINGS = {
    "num-rounds": 3,
    "slm-epochs": 8,  # at most: the best epoch on the client's validation split is kept
    "slm-lr": 0.005,
    "llm-epochs": 2,
    "llm-lr": 0.003,
    "max-new-tokens": 14,
    "samples-per-label": 80,
    "threshold": 0.35,  # above chance (0.25 for 4 labels): SLMs this small are unsure
    "negative-weight": 0.5,  # samples the clients reject are pushed down (unlikelihood) in the LLM
    "regularizer": "lora+replay",
    "test-fraction": 0.5,
    "server-test-fraction": 0.25,
    "round-timeout": 900.0,
    # Every method that learns from synthetic samples (KD, filtered KD, CrossLM) weights them by half and
    # to each client's own label mix: client-side, so the baselines get them too.
    "synthetic-weight": 0.5,
    "synthetic-prior-match": True,
}
# CrossLM's own settings on top of SETTINGS: per-label feedback gives each sample the federation's consensus
# label (a vote where its normalised score reaches 0.2; chance is 1/8), and a sample keeps the label two of
# three judges give it: the one it was written for, the LLM's scorer, the clients' consensus.
CROSSLM = {"relabel": True, "threshold": 0.2, "relabel-vote": "majority"}
CLIENTS = 6
EXAMPLES = 480  # 120 for the server's LLM benchmark, 360 across the clients
TOPICS = 8  # labels of the world; 4 in the earlier grid (its union of silos was +0.9 over Standalone)


def world_for(seed: int, topics: int = TOPICS) -> World:
    world = make_world(num_topics=topics, words_per_topic=24, seed=seed)
    world.topic_share = 0.5
    return world


def assets(seed: int, root: Path, topics: int = TOPICS) -> dict:
    """The seed's world exported as conversations, general text, the pretrained LLM and the SLMs."""
    world, data = world_for(seed, topics), root / f"seed-{seed}"
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "export").exists():
        save_dataset(world.conversations(EXAMPLES, seed=seed + 1), data / "export")
    general = data / "general.txt"  # general-domain text: 1 in 5 lines held out for perplexity
    general.write_text("\n".join(world.general_text(400, seed=seed + 2)) + "\n")
    # Enough headed documents to learn the header reliably, most of them (58%) mislabelled: the LLM starts
    # as a mediocre label scorer and writer.
    corpus = world.public_corpus(n_headed=1600, n_general=1200, header_noise=0.58, seed=seed + 3)
    llm = data / "llm"
    if not (llm / "config.json").exists():
        start = time.perf_counter()
        build_tiny_causal_lm(llm, "llama", corpus, hidden=64, pretrain_epochs=5, lr=0.01, seed=seed)
        console.print(f"seed {seed}: LLM pretrained in {time.perf_counter() - start:.0f} s")
    texts = [c.split(" : ", 1)[-1] for c in corpus]
    slms = []
    for i, fam in enumerate(("bert", "distilbert", "gpt2")):
        path = data / f"slm-{fam}"
        if not (path / "config.json").exists():
            build_tiny_classifier(path, fam, texts, world.topics, hidden=32, seed=seed + i)
        slms.append(str(path))
    return {"export": data / "export", "general": general, "llm": llm, "slms": slms, "world": world}


def base_config(a: dict, seed: int, alpha: float, overrides: dict | None = None) -> RunConfig:
    return RunConfig.from_mapping(
        {
            **SETTINGS,
            "data-path": str(a["export"]),
            "task-labels": ",".join(a["world"].topics),
            "llm": str(a["llm"]),
            "slms": ",".join(a["slms"]),
            "general-text": str(a["general"]),
            "min-clients": CLIENTS,
            "partition-by": "dirichlet",
            "dirichlet-alpha": alpha,
            "seed": seed,
            **(overrides or {}),
        }
    )


def flower_cell(cfg: RunConfig, world: World | None) -> dict:
    start = time.perf_counter()
    summary = run(cfg, CLIENTS, 1.0, ray_cpus=2)
    last, initial = summary["rounds"][-1], summary.get("initial", {})
    cell = {
        "slm_accuracy": {str(c["partition_id"]): c["test_accuracy"] for c in last["clients"]},
        "slm_mean_accuracy": last["slm_mean_accuracy"],
        "slm_mean_by_round": [r["slm_mean_accuracy"] for r in summary["rounds"]],
        "llm_task_accuracy_before": initial.get("llm_task_accuracy"),
        "llm_task_accuracy_after": last.get("llm_task_accuracy"),
        "llm_general_ppl_before": initial.get("llm_general_ppl"),
        "llm_general_ppl_after": last.get("llm_general_ppl"),
        "accepted": [r.get("accepted") for r in summary["rounds"]],
        "generated": [r.get("generated") for r in summary["rounds"]],
        "relabelled": [r.get("relabelled") for r in summary["rounds"]],  # accepted under another label
        "best_epochs": [c.get("best_epoch") for c in last["clients"]],
        "round1_accuracy": {
            str(c["partition_id"]): c["test_accuracy"] for c in summary["rounds"][0]["clients"]
        },
        "wall_s": time.perf_counter() - start,
    }
    state = Path(cfg.out_dir) / "checkpoint" / "state.json"
    if world is not None and cfg.method in ("kd", "kd-filtered", "crosslm") and state.exists():
        pool = json.loads(state.read_text())["pool"]
        cell["pool_size"], cell["pool_label_precision"] = len(pool), world.label_precision(pool)
    return cell


def standalone_cell(cfg: RunConfig) -> dict:
    """Each client alone: its round function on its silo, round after round, with no synthetic data."""
    start = time.perf_counter()
    cfg = cfg.replace(silo_dir=str(Path(cfg.out_dir) / "silos"))
    write_silos(cfg, CLIENTS, cfg.silo_dir)
    nothing = {
        "score_texts": [],
        "score_labels": [],
        "train_texts": [],
        "train_labels": [],
        "train_weights": [],
    }
    by_round = []
    for rnd in range(1, cfg.num_rounds + 1):
        clients = [run_round(cfg, pid, {"round": rnd, **nothing})[1] for pid in range(CLIENTS)]
        by_round.append(clients)
    last = by_round[-1]
    return {
        "slm_accuracy": {str(c["partition_id"]): c["test_accuracy"] for c in last},
        "slm_mean_accuracy": sum(c["test_accuracy"] for c in last) / len(last),
        "slm_mean_by_round": [sum(c["test_accuracy"] for c in r) / len(r) for r in by_round],
        "round1_accuracy": {str(c["partition_id"]): c["test_accuracy"] for c in by_round[0]},
        "best_epochs": [c["best_epoch"] for c in last],
        "wall_s": time.perf_counter() - start,
    }


def union_of_silos(cfg: RunConfig, clients: int, seed: int):
    """(task, federation, the silos' train splits pooled and shuffled, their validation splits pooled):
    what an upper bound trained on all the private data sees."""
    task, examples = load_task_examples(cfg)
    fed = split_federation(task, examples, cfg, clients)
    train = [ex for s in fed.silos for ex in s.train]
    val = [ex for s in fed.silos for ex in s.val]
    random.Random(seed).shuffle(train)
    return task, fed, train, val


def centralised_cell(cfg: RunConfig) -> dict:
    """The upper bound: each client's own architecture trained on the union of all clients' private data
    (one model per architecture), evaluated on that client's test split."""
    start = time.perf_counter()
    torch.set_num_threads(1)
    task, fed, train, val = union_of_silos(cfg, CLIENTS, cfg.seed)
    models, best = {}, []
    for spec in sorted({cfg.slm_for(i) for i in range(CLIENTS)}):
        torch.manual_seed(cfg.seed)
        slm = ClientSLM(spec, task.labels, cfg.slm_max_length)
        slm.train(
            [e.text for e in train],
            [e.label for e in train],
            epochs=cfg.slm_epochs * cfg.num_rounds,  # the federated runs' epochs, all at once
            lr=cfg.slm_lr,
            batch_size=cfg.slm_batch_size,
            seed=cfg.seed,
            val=([e.text for e in val], [e.label for e in val]),
        )
        models[spec] = slm
        best.append(slm.best_epoch)
    accs = {
        str(i): models[cfg.slm_for(i)].accuracy([e.text for e in s.test], [e.label for e in s.test])
        for i, s in enumerate(fed.silos)
    }
    return {
        "slm_accuracy": accs,
        "slm_mean_accuracy": sum(accs.values()) / len(accs),
        "best_epochs": best,
        "wall_s": time.perf_counter() - start,
    }


def run_grid(
    out: Path, seeds, alphas, methods=METHODS, overrides: dict | None = None, topics: int = TOPICS
) -> list[dict]:
    """Every (seed, alpha, method) cell, reusing cells already on disk; returns them all."""
    cells_dir = out / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    cells = []
    for alpha in alphas:  # alpha-major: the first alpha is complete over all seeds before the next starts
        for seed in seeds:
            a = assets(seed, out / "data", topics)
            for method in methods:
                path = cells_dir / f"seed{seed}-alpha{alpha}-{method}.json"
                if path.exists():
                    cells.append(json.loads(path.read_text()))
                    continue
                own = CROSSLM if method == "crosslm" else {}
                cfg = base_config(a, seed, alpha, {**own, **(overrides or {})}).replace(
                    method=method, out_dir=str(out / "runs" / f"seed{seed}-alpha{alpha}" / method)
                )
                try:
                    cell = LOCAL[method](cfg) if method in LOCAL else flower_cell(cfg, a["world"])
                except ConfigError as exc:  # a Dirichlet draw that leaves a client too little data
                    if "silo holds" not in str(exc):
                        raise
                    console.print(f"[red]seed {seed} alpha {alpha}: skipped, {exc}[/red]")
                    break
                cell.update(seed=seed, alpha=alpha, method=method)
                path.write_text(json.dumps(cell, indent=1))
                console.print(_line(cell))
                cells.append(cell)
    return cells


def _line(c: dict) -> str:
    llm = ""
    if c.get("llm_task_accuracy_after") is not None:
        llm = f", LLM {c['llm_task_accuracy_before']:.3f} -> {c['llm_task_accuracy_after']:.3f}"
    return (
        f"seed {c['seed']} alpha {c['alpha']} {c['method']}: SLM mean {c['slm_mean_accuracy']:.3f}{llm} "
        f"({c['wall_s']:.0f} s)"
    )


LOCAL = {"standalone": standalone_cell, "centralised": centralised_cell}
