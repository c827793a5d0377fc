"""Response mode in the controlled world (`response_world.py`), over seeds: does the federation of reward
models make the LLM's answers ones the hidden rater prefers, and do the reward models beat Standalone?

Per seed: a world, its rated conversations exported through `sharelm` (6 contributors = 6 silos by
user_id), the server's public prompt set (every fifth held out), an LLM pretrained on dialogs whose answers
are mostly off topic or out of style, reward models (BERT / DistilBERT classifiers of prompt || answer).
Cells: `crosslm` (CrossLM's response rounds: `crosslm.server`'s generate / aggregate / enhance and
`crosslm.client.run_round`, driven here in one process, without Flower's transport, so five seeds fit
on two shared cores; the Flower-on-Ray path of the same functions is `tests/test_response_run.py`),
`standalone` (each client's round function on its silo alone, same seeds) and `pooled` (one reward model
per architecture on the union of the silos: the upper bound). Each cell is a JSON file; a rerun resumes.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch
from controlled import union_of_silos
from response_world import TEMPLATE, ResponseWorld, make_response_world
from rich.console import Console

from crosslm import protocol
from crosslm.client import client_dir, run_round
from crosslm.config import RunConfig
from crosslm.data import write_silos
from crosslm.models.slm import ClientSLM
from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier
from crosslm.reward import LABELS, rm_text
from crosslm.server import aggregate, checkpoint, enhance, evaluate_llm, finish, generate, setup
from sharelm.export import save_dataset

console = Console()
CLIENTS = 6
PER_CONTRIBUTOR = 200  # conversations (about 1.3 rated answers each)
METHODS = ("standalone", "crosslm", "pooled")
SETTINGS = {
    "mode": "response",
    "num-rounds": 3,
    "partition-by": "user_id",
    "server-test-fraction": 0.0,
    "test-fraction": 0.25,
    "slm-epochs": 10,
    "slm-lr": 0.002,
    "llm-epochs": 4,
    "llm-lr": 0.01,
    "replay-weight": 0.3,
    "max-new-tokens": 12,
    "prompts-per-round": 32,
    "answers-per-prompt": 8,
    "negative-weight": 0.5,
    "threshold": 0.3,
    "agree-margin": 0.2,
    "regularizer": "lora+replay",
    "response-template": TEMPLATE,
    "min-clients": CLIENTS,
}


def world_for(seed: int) -> ResponseWorld:
    return make_response_world(seed=seed)


def assets(seed: int, root: Path) -> dict:
    world, data = world_for(seed), root / f"seed-{seed}"
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "export").exists():
        save_dataset(world.conversations(CLIENTS, PER_CONTRIBUTOR, seed=seed + 1), data / "export")
    (data / "prompts.txt").write_text("\n".join(world.prompts(250, seed=seed + 2)) + "\n")
    (data / "general.txt").write_text("\n".join(world.general_text(400, seed=seed + 3)) + "\n")
    corpus = world.public_corpus(1200, 800, seed=seed + 4)
    if not (data / "llm" / "config.json").exists():
        t = time.perf_counter()
        build_tiny_causal_lm(data / "llm", "llama", corpus, hidden=64, pretrain_epochs=4, lr=0.01, seed=seed)
        console.print(f"seed {seed}: LLM pretrained in {time.perf_counter() - t:.0f} s")
    texts = [d.replace("user : ", "").replace(" assistant : ", " || ") for d in corpus]
    slms = []
    for i, fam in enumerate(("bert", "distilbert")):
        path = data / f"rm-{fam}"
        if not (path / "config.json").exists():
            build_tiny_classifier(path, fam, texts, LABELS, hidden=32, seed=seed + i)
        slms.append(str(path))
    return {"data": data, "world": world, "slms": slms}


def config(a: dict, seed: int, method: str, out: Path, overrides: dict | None = None) -> RunConfig:
    d = a["data"]
    return RunConfig.from_mapping(
        {
            **SETTINGS,
            "method": method if method != "pooled" else "standalone",
            "data-path": str(d / "export"),
            "prompts-path": str(d / "prompts.txt"),
            "general-text": str(d / "general.txt"),
            "llm": str(d / "llm"),
            "slms": ",".join(a["slms"]),
            "seed": seed,
            "out-dir": str(out),
            "silo-dir": str(out / "silos"),
            **(overrides or {}),
        }
    )


def pairwise_accuracy(rm: ClientSLM, pairs) -> float:
    better = rm.feedback([rm_text(p, a) for p, a, _ in pairs], ["liked"] * len(pairs))
    worse = rm.feedback([rm_text(p, b) for p, _, b in pairs], ["liked"] * len(pairs))
    return sum(x > y for x, y in zip(better, worse, strict=True)) / len(pairs)


def _rm_accuracies(cfg: RunConfig, world: ResponseWorld, seed: int) -> dict[str, float]:
    pairs = world.test_pairs(300, seed=seed + 5)
    accs = {}
    for pid in range(CLIENTS):
        last = max(client_dir(cfg, pid).glob("round-*"), key=lambda p: int(p.name.split("-")[1]))
        accs[str(pid)] = pairwise_accuracy(ClientSLM(last, LABELS, cfg.slm_max_length), pairs)
    return accs


def crosslm_cell(cfg: RunConfig, world: ResponseWorld, seed: int) -> dict:
    """CrossLM's response rounds with the strategy's steps in order (see the module docstring)."""
    start = time.perf_counter()
    write_silos(cfg, CLIENTS, cfg.silo_dir)
    side = setup(cfg)
    for rnd in range(1, cfg.num_rounds + 1):
        score = generate(side, rnd)
        msg = dict(protocol.round_message(rnd, score, [tuple(x) for x in side.state.pool])[protocol.ROUND])
        replies = [run_round(cfg, pid, msg) for pid in range(CLIENTS)]
        for fb, m, _ in replies:  # what the ClientApp would send: the protocol's check applies
            protocol.validate_reply(protocol.client_reply(fb, m), len(score))
        clients = [m for _, m, _ in replies]
        quality = aggregate(
            [fb for fb, _, _ in replies],
            [m["num_examples"] for m in clients],
            cfg.aggregation,
            [m["label_counts"] for m in clients],
            [LABELS.index(y) for _, y in score],
        )
        stats = enhance(side, score, quality)
        mean_acc = statistics.mean(m["test_accuracy"] for m in clients)
        record = {
            "round": rnd,
            "clients": clients,
            "slm_mean_accuracy": mean_acc,
            **evaluate_llm(side),
            **stats,
        }
        record.update(num_ok=CLIENTS, num_sampled=CLIENTS, time={"round_s": 0.0})
        checkpoint(side, record)
        console.print(
            f"  round {rnd}: mean score {stats['mean_quality']:.3f}, LLM trained on "
            f"{stats['llm_train_samples']:.0f}, pool {stats['pool']}, ppl {record['llm_general_ppl']:.2f}"
        )
    finish(side)
    out = Path(cfg.out_dir)
    before = json.loads((out / "answers-before.json").read_text())
    after = json.loads((out / "answers-after.json").read_text())
    wins = []
    for b, a in zip(before, after, strict=True):
        vb, va = world.value(b["prompt"], b["answer"]), world.value(a["prompt"], a["answer"])
        wins.append(1.0 if va > vb else 0.5 if va == vb else 0.0)
    return {
        "win_rate": sum(wins) / len(wins),
        "liked_before": statistics.mean(world.liked(b["prompt"], b["answer"]) for b in before),
        "liked_after": statistics.mean(world.liked(a["prompt"], a["answer"]) for a in after),
        "ppl_before": side.state.initial["llm_general_ppl"],
        "ppl_after": side.state.history[-1]["llm_general_ppl"],
        "rm_pairwise": _rm_accuracies(cfg, world, seed),
        "mean_score_by_round": [r["mean_quality"] for r in side.state.history],
        "examples": [
            {"prompt": b["prompt"], "before": b["answer"], "after": a["answer"]}
            for b, a in list(zip(before, after, strict=True))[:4]
        ],
        "wall_s": time.perf_counter() - start,
    }


def standalone_cell(cfg: RunConfig, world: ResponseWorld, seed: int) -> dict:
    start = time.perf_counter()
    write_silos(cfg, CLIENTS, cfg.silo_dir)
    nothing = {k: [] for k in ("score_texts", "score_labels", "train_texts", "train_labels", "train_weights")}
    for rnd in range(1, cfg.num_rounds + 1):
        for pid in range(CLIENTS):
            run_round(cfg, pid, {"round": rnd, **nothing})
    return {"rm_pairwise": _rm_accuracies(cfg, world, seed), "wall_s": time.perf_counter() - start}


def pooled_cell(cfg: RunConfig, world: ResponseWorld, seed: int) -> dict:
    """One reward model per architecture on the union of the silos' rated answers; the upper bound."""
    start = time.perf_counter()
    torch.set_num_threads(1)
    _, _, train, val = union_of_silos(cfg, CLIENTS, seed)
    pairs, accs = world.test_pairs(300, seed=seed + 5), {}
    for spec in sorted(set(cfg.slm_list)):
        torch.manual_seed(seed)
        rm = ClientSLM(spec, LABELS, cfg.slm_max_length)
        rm.train(
            [e.text for e in train],
            [e.label for e in train],
            epochs=cfg.slm_epochs * cfg.num_rounds,
            lr=cfg.slm_lr,
            batch_size=cfg.slm_batch_size,
            seed=seed,
            val=([e.text for e in val], [e.label for e in val]),
        )
        acc = pairwise_accuracy(rm, pairs)
        for pid in range(CLIENTS):
            if cfg.slm_for(pid) == spec:
                accs[str(pid)] = acc
    return {"rm_pairwise": accs, "wall_s": time.perf_counter() - start}


CELLS = {"crosslm": crosslm_cell, "standalone": standalone_cell, "pooled": pooled_cell}


def run_seeds(out: Path, seeds, methods=METHODS, overrides: dict | None = None) -> list[dict]:
    cells_dir = out / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    cells = []
    for seed in seeds:
        a = assets(seed, out / "data")
        for method in methods:
            path = cells_dir / f"seed{seed}-{method}.json"
            if path.exists():
                cells.append(json.loads(path.read_text()))
                continue
            cfg = config(a, seed, method, out / "runs" / f"seed{seed}" / method, overrides)
            cell = CELLS[method](cfg, a["world"], seed)
            cell.update(seed=seed, method=method)
            path.write_text(json.dumps(cell, indent=1))
            rm = statistics.mean(cell["rm_pairwise"].values())
            extra = f", win rate {cell['win_rate']:.3f}" if "win_rate" in cell else ""
            console.print(f"seed {seed} {method}: RM pairwise {rm:.3f}{extra} ({cell['wall_s']:.0f} s)")
            cells.append(cell)
    return cells


def summarize(cells: list[dict]) -> str:
    """The README's table: win rate, reward-model pairwise accuracy by method, perplexity drift."""
    from stats import fmt, mean_ci, paired_diff

    by = {(c["seed"], c["method"]): c for c in cells}
    seeds = sorted({s for s, m in by if m == "crosslm"})
    rm = {
        m: [statistics.mean(by[s, m]["rm_pairwise"].values()) for s in seeds if (s, m) in by] for m in METHODS
    }
    cross = [by[s, "crosslm"] for s in seeds]
    drift = [100 * (c["ppl_after"] / c["ppl_before"] - 1) for c in cross]
    lines = [
        f"Seeds {seeds}; mean ± 95% interval over seeds (Student t).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| hidden rater's win rate, tuned vs starting LLM (held-out prompts, ties 1/2) | "
        f"{fmt(*mean_ci([c['win_rate'] for c in cross]))} |",
        f"| answers the rater likes: start -> tuned | {fmt(*mean_ci([c['liked_before'] for c in cross]))} -> "
        f"{fmt(*mean_ci([c['liked_after'] for c in cross]))} |",
        f"| general perplexity change | {fmt(*mean_ci(drift), digits=2)} % |",
    ]
    for m, label in (("standalone", "Standalone (own silo)"), ("crosslm", "CrossLM"), ("pooled", "pooled")):
        if len(rm[m]) == len(seeds):
            lines.append(f"| reward-model pairwise accuracy, {label} | {fmt(*mean_ci(rm[m]))} |")
    if len(rm["standalone"]) == len(seeds):
        diff = fmt(*paired_diff(rm["crosslm"], rm["standalone"]))
        lines.append(f"| pairwise accuracy, CrossLM − Standalone (paired) | {diff} |")
    lines.append(f"| wall time per CrossLM cell | {statistics.mean(c['wall_s'] for c in cross):.0f} s |")
    return "\n".join(lines)
