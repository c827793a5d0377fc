"""CrossLM's round as a Flower strategy: configure (generate, sample, broadcast), aggregate (feedback, the
LLM's enhancement, FedAvg weights for that baseline), evaluate (the LLM, the round's record, a checkpoint).

Flower's `Strategy.start` drives the rounds. One message a round goes to each sampled client: it trains,
evaluates locally and scores in that one reply, so `configure_evaluate` sends nothing.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterable

import torch
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords, sample_nodes

from crosslm import protocol
from crosslm.server import (
    ServerSide,
    aggregate,
    aggregate_per_label,
    checkpoint,
    enhance,
    evaluate_llm,
    generate,
    mean,
)

log = logging.getLogger("crosslm")


class CrossLMStrategy(Strategy):
    """`offset`: rounds already done (a resumed run); Flower's round r is CrossLM's round offset + r."""

    def __init__(self, side: ServerSide, offset: int = 0):
        self.side, self.offset = side, offset
        self.round: dict = {}  # what configure_train / aggregate_train hand to evaluate

    def summary(self) -> None:
        cfg = self.side.cfg
        log.info(
            "CrossLM strategy: method %s, %s aggregation%s, threshold %s, min clients %d, fraction %s",
            cfg.method,
            cfg.aggregation,
            " per label (relabel)" if cfg.relabel else "",
            cfg.threshold,
            cfg.min_clients,
            cfg.fraction_clients,
        )

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        cfg, rnd = self.side.cfg, self.offset + server_round
        self.side.events.emit("round_start", round=rnd, num_rounds=cfg.num_rounds)
        t0 = time.perf_counter()
        samples = generate(self.side, rnd)
        size = max(cfg.min_clients, math.ceil(cfg.fraction_clients * len(list(grid.get_node_ids()))))
        random.seed(cfg.seed * 31 + rnd)  # sample_nodes draws from the global generator
        chosen, _ = sample_nodes(grid, cfg.min_clients, size)
        chosen = sorted(chosen)
        score = samples if cfg.method == "crosslm" else []
        pool = [(t, y, q) for t, y, q in self.side.state.pool]
        weights = arrays if cfg.method == "fedavg" and len(arrays) else None
        self.round = {
            "t0": t0,
            "samples": samples,
            "score": score,
            "chosen": chosen,
            "generate_s": time.perf_counter() - t0,
            "sent": time.perf_counter(),
        }
        return [
            Message(
                content=protocol.round_message(rnd, score, pool, weights),
                dst_node_id=nid,
                message_type=MessageType.TRAIN,
                group_id=str(rnd),
            )
            for nid in chosen
        ]

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        cfg, r = self.side.cfg, self.round
        replies = list(replies)
        r["clients_s"] = time.perf_counter() - r["sent"]
        labels = self.side.task.labels
        per_label = len(labels) if cfg.relabel else 0
        ok, failed = _check(replies, len(r["score"]), cfg.method == "fedavg", per_label)
        replied = {rep.metadata.src_node_id for rep in replies}
        r.update(ok=ok, failed=failed, timed_out=[n for n in r["chosen"] if n not in replied])
        t = time.perf_counter()
        clients = [dict(rep.content[protocol.METRICS]) for rep in ok]
        if clients:  # the next round's synthetic label mix follows what clients hold
            self.side.state.label_counts = [
                int(sum(c)) for c in zip(*(x["label_counts"] for x in clients), strict=True)
            ]
        quality = consensus = None
        if r["score"] and ok and cfg.relabel:  # [client][sample][label] -> the federation's [sample][label]
            n = len(labels)
            probs = [list(rep.content[protocol.FEEDBACK][protocol.LABEL_PROBS]) for rep in ok]
            consensus = aggregate_per_label(
                [[p[i : i + n] for i in range(0, len(p), n)] for p in probs],
                [int(c["num_examples"]) for c in clients],
                cfg.aggregation,
                [list(c["label_counts"]) for c in clients],
                cfg.relabel_normalize,
            )
        elif r["score"] and ok:
            quality = aggregate(
                [list(rep.content[protocol.FEEDBACK][protocol.QUALITY]) for rep in ok],
                [int(c["num_examples"]) for c in clients],
                cfg.aggregation,
                [list(c["label_counts"]) for c in clients],
                [labels.index(y) for _, y in r["score"]],
            )
        r["stats"] = enhance(self.side, r["samples"], quality, consensus)
        arrays = None
        if cfg.method == "fedavg" and ok:  # Flower's weighted mean, by each client's example count
            arrays = aggregate_arrayrecords(
                [
                    RecordDict({"m": rep.content[protocol.METRICS], "w": rep.content[protocol.SLM_WEIGHTS]})
                    for rep in ok
                ],
                "num_examples",
            )
        r["clients"], r["enhance_s"] = clients, time.perf_counter() - t
        return arrays, MetricRecord({"slm_mean_accuracy": mean([c["test_accuracy"] for c in clients])})

    def configure_evaluate(self, server_round, arrays, config, grid) -> Iterable[Message]:
        return []  # clients evaluate locally inside the train round's single message

    def aggregate_evaluate(self, server_round, replies) -> MetricRecord | None:
        return None

    def evaluate(self, server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        """Flower's server-side evaluation: the LLM, then the round's record and checkpoint."""
        if server_round == 0:  # the starting LLM was evaluated in setup (or restored on resume)
            return None
        cfg, r, rnd = self.side.cfg, self.round, self.offset + server_round
        t = time.perf_counter()
        llm_eval = evaluate_llm(self.side) if cfg.method == "crosslm" else dict(self.side.state.initial)
        record = _record(cfg.method, rnd, r, llm_eval, time.perf_counter() - t)
        checkpoint(self.side, record)
        if cfg.method == "fedavg" and len(arrays):
            torch.save(arrays.to_torch_state_dict(), self.side.checkpoint_dir / "fedavg.pt")
        self.side.events.emit("round", record=record)
        if not r["ok"]:
            self.side.events.emit("warning", message=f"round {rnd}: no client replied")
        return MetricRecord({k: float(v) for k, v in llm_eval.items()})


def _check(
    replies: list[Message], num_scores: int, fedavg: bool, num_labels: int = 0
) -> tuple[list[Message], list[dict]]:
    """The replies that keep the protocol (`num_labels` > 0: per-label feedback); the rest (errors,
    violations) as failures with a reason."""
    ok, failed = [], []
    for rep in replies:
        if rep.has_error():  # a ClientApp that raised, or whose worker process died
            failed.append({"node_id": rep.metadata.src_node_id, "reason": rep.error.reason[-300:]})
            continue
        try:
            protocol.validate_reply(rep.content, num_scores, allow_weights=fedavg, num_labels=num_labels)
        except protocol.ProtocolError as exc:
            failed.append({"node_id": rep.metadata.src_node_id, "reason": f"protocol: {exc}"})
            continue
        ok.append(rep)
    return ok, failed


def _record(method: str, rnd: int, r: dict, llm_eval: dict, evaluate_s: float) -> dict:
    clients = r["clients"]
    return {
        "round": rnd,
        "method": method,
        "clients": sorted(clients, key=lambda c: c["partition_id"]),
        "slm_mean_accuracy": mean([c["test_accuracy"] for c in clients]),
        **llm_eval,
        **r["stats"],
        "num_sampled": len(r["chosen"]),
        "num_ok": len(r["ok"]),
        "failed": r["failed"],
        "timed_out": r["timed_out"],
        "epsilon": max([c["epsilon"] for c in clients], default=0.0),
        "time": {
            "generate_s": r["generate_s"],
            "clients_s": r["clients_s"],
            "enhance_s": r["enhance_s"],
            "evaluate_s": evaluate_s,
            "client_compute_sum_s": sum(c["compute_s"] for c in clients),
            "client_compute_max_s": max([c["compute_s"] for c in clients], default=0.0),
            "round_s": time.perf_counter() - r["t0"],
        },
    }
