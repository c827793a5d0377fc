"""Flower ServerApp: CrossLM's rounds (and the baselines') over the Message API's Grid."""

from __future__ import annotations

import logging
import math
import random
import time

import torch
from flwr.app import ArrayRecord, Context, Message, MessageType
from flwr.serverapp import Grid, ServerApp

from crosslm import protocol
from crosslm.config import RunConfig
from crosslm.server import (
    ServerSide,
    aggregate,
    checkpoint,
    enhance,
    evaluate_llm,
    finish,
    generate,
    mean,
    setup,
)

log = logging.getLogger("crosslm")
app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = RunConfig.from_mapping(context.run_config)
    cfg.require_models()
    side = setup(cfg)
    node_ids = wait_for_nodes(grid, cfg.min_clients, cfg.node_wait_timeout)
    weights = _load_fedavg(side)
    for rnd in range(side.state.round + 1, cfg.num_rounds + 1):
        weights = run_round(grid, side, node_ids, rnd, weights)
    finish(side)


def wait_for_nodes(grid: Grid, min_nodes: int, timeout: float) -> list[int]:
    """Nodes register asynchronously: wait for `min_nodes`, then until the count stops growing."""
    deadline = time.time() + timeout
    ids: list[int] = []
    stable_since = time.time()
    while time.time() < deadline:
        now = sorted(grid.get_node_ids())
        if len(now) != len(ids):
            ids, stable_since = now, time.time()
        if len(ids) >= min_nodes and time.time() - stable_since > 1.0:
            return ids
        time.sleep(0.1)
    if len(ids) >= min_nodes:
        return ids
    raise RuntimeError(
        f"only {len(ids)} of the {min_nodes} required client nodes registered in {timeout:.0f} s"
    )


def run_round(grid: Grid, side: ServerSide, node_ids: list[int], rnd: int, weights: ArrayRecord | None):
    cfg = side.cfg
    t0 = time.perf_counter()
    samples = generate(side, rnd)
    t_gen = time.perf_counter() - t0
    pool = [(t, y) for t, y, _ in side.state.pool]
    k = max(min(cfg.min_clients, len(node_ids)), math.ceil(cfg.fraction_clients * len(node_ids)))
    chosen = sorted(random.Random(cfg.seed * 31 + rnd).sample(node_ids, k))
    score = samples if cfg.method == "crosslm" else []
    messages = [
        Message(
            content=protocol.round_message(rnd, score, pool, weights),
            dst_node_id=nid,
            message_type=MessageType.TRAIN,
            group_id=str(rnd),
        )
        for nid in chosen
    ]

    t1 = time.perf_counter()
    replies = list(grid.send_and_receive(messages, timeout=cfg.round_timeout))
    t_comm = time.perf_counter() - t1
    ok, failed = [], []
    for rep in replies:
        if rep.has_error():  # a ClientApp that raised: left out of this round
            failed.append({"node_id": rep.metadata.src_node_id, "reason": rep.error.reason[-300:]})
            continue
        try:
            protocol.validate_reply(rep.content, len(score), allow_weights=cfg.method == "fedavg")
        except protocol.ProtocolError as exc:
            failed.append({"node_id": rep.metadata.src_node_id, "reason": f"protocol: {exc}"})
            continue
        ok.append(rep)
    replied = {rep.metadata.src_node_id for rep in replies}
    timed_out = [nid for nid in chosen if nid not in replied]
    if not ok:
        log.warning("round %d: no client replied (%d failed, %d timed out)", rnd, len(failed), len(timed_out))

    t2 = time.perf_counter()
    clients = [dict(rep.content[protocol.METRICS]) for rep in ok]
    quality = None
    if score and ok:
        quality = aggregate(
            [list(rep.content[protocol.FEEDBACK]["quality"]) for rep in ok],
            [int(c["num_examples"]) for c in clients],
        )
    stats = enhance(side, samples, quality)
    if cfg.method == "fedavg" and ok:
        weights = fedavg(
            [rep.content[protocol.SLM_WEIGHTS] for rep in ok], [c["num_examples"] for c in clients]
        )
    t_enh = time.perf_counter() - t2
    t3 = time.perf_counter()
    llm_eval = evaluate_llm(side) if cfg.method == "crosslm" else dict(side.state.initial)
    t_eval = time.perf_counter() - t3
    record = {
        "round": rnd,
        "method": cfg.method,
        "clients": sorted(clients, key=lambda c: c["partition_id"]),
        "slm_mean_accuracy": mean([c["test_accuracy"] for c in clients]),
        **llm_eval,
        **stats,
        "num_sampled": len(chosen),
        "num_ok": len(ok),
        "failed": failed,
        "timed_out": timed_out,
        "epsilon": max([c["epsilon"] for c in clients], default=0.0),
        "time": {
            "generate_s": t_gen,
            "clients_s": t_comm,
            "enhance_s": t_enh,
            "evaluate_s": t_eval,
            "client_compute_sum_s": sum(c["compute_s"] for c in clients),
            "client_compute_max_s": max([c["compute_s"] for c in clients], default=0.0),
            "round_s": time.perf_counter() - t0,
        },
    }
    checkpoint(side, record)
    _save_fedavg(side, weights)
    log.info("round %d: slm acc %.3f, %d/%d clients", rnd, record["slm_mean_accuracy"], len(ok), len(chosen))
    return weights


def fedavg(records: list[ArrayRecord], counts: list[int]) -> ArrayRecord:
    """Example-count-weighted mean of the clients' weights (floating tensors; others from the first)."""
    states = [r.to_torch_state_dict() for r in records]
    total = float(sum(counts))
    avg = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            avg[key] = sum(s[key] * (n / total) for s, n in zip(states, counts, strict=True))
        else:
            avg[key] = first
    return ArrayRecord(avg)


def _save_fedavg(side: ServerSide, weights: ArrayRecord | None) -> None:
    if weights is not None:
        torch.save(weights.to_torch_state_dict(), side.checkpoint_dir / "fedavg.pt")


def _load_fedavg(side: ServerSide) -> ArrayRecord | None:
    path = side.checkpoint_dir / "fedavg.pt"
    if side.cfg.method == "fedavg" and side.cfg.resume and path.exists():
        return ArrayRecord(torch.load(path))
    return None
