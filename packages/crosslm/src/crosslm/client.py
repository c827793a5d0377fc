"""One client round: train the SLM locally, evaluate it, score the synthetic samples, return feedback.

The SLM of every round is kept on the client's own disk (`<out>/clients/client-<id>/round-<r>`): the next
round continues from it, and a resumed run picks up exactly the round it restarts from.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path

import torch

from crosslm.config import RunConfig
from crosslm.data import read_silo
from crosslm.models.slm import ClientSLM
from crosslm.privacy import epsilon_spent, privatize


def client_dir(cfg: RunConfig, partition_id: int) -> Path:
    return Path(cfg.out_dir) / "clients" / f"client-{partition_id}"


def load_slm(cfg: RunConfig, partition_id: int, rnd: int, labels: list[str]) -> ClientSLM:
    """The SLM as this client's latest earlier round left it, or the configured starting model."""
    earlier = [r for r in _saved_rounds(cfg, partition_id) if r < rnd]
    source = client_dir(cfg, partition_id) / f"round-{max(earlier)}" if earlier else cfg.slm_for(partition_id)
    return ClientSLM(source, labels, cfg.slm_max_length)


def _saved_rounds(cfg: RunConfig, partition_id: int) -> list[int]:
    root = client_dir(cfg, partition_id)
    return sorted(int(p.name.split("-")[1]) for p in root.glob("round-*") if (p / "config.json").exists())


def run_round(
    cfg: RunConfig, partition_id: int, msg: dict, weights: dict | None = None
) -> tuple[list[float], dict, dict | None]:
    """One round on this client from plain values (the ClientApp's worker process calls it).

    `msg`: the round record's values; `weights`: the FedAvg global state. Returns (feedback, metrics,
    FedAvg weights or None): what `protocol.client_reply` turns into the reply. Feedback is P(intended
    label) per sample, or with `relabel` every label's probability per sample (sample-major); DP, when
    set, noises the whole vector.
    """
    torch.set_num_threads(1)  # one core per simulated client; Ray schedules the rest
    rnd = int(msg["round"])
    torch.manual_seed(cfg.seed * 1_000_003 + rnd * 1_009 + partition_id)  # same dropout draws across methods
    _inject_faults(cfg, partition_id, rnd)
    start = time.perf_counter()
    labels, silo = read_silo(cfg.silo_dir, partition_id)
    slm = load_slm(cfg, partition_id, rnd, labels)
    if weights is not None:  # FedAvg baseline: start from the global weights
        slm.model.load_state_dict(weights, strict=False)

    syn_texts, syn_labels = list(msg["train_texts"]), list(msg["train_labels"])
    loss = slm.train(
        [ex.text for ex in silo.train] + syn_texts,
        [ex.label for ex in silo.train] + syn_labels,
        [1.0] * len(silo.train) + _synthetic_weights(cfg, msg, [ex.label for ex in silo.train]),
        epochs=cfg.slm_epochs,
        lr=cfg.slm_lr,
        batch_size=cfg.slm_batch_size,
        seed=cfg.seed * 1000 + rnd,
        val=([ex.text for ex in silo.val], [ex.label for ex in silo.val]),
    )
    accuracy = slm.accuracy([ex.text for ex in silo.test], [ex.label for ex in silo.test])

    if cfg.relabel:  # every label's probability per sample, sample-major: the server relabels the pool
        feedback = slm.probabilities(list(msg["score_texts"])).flatten().tolist()
    else:
        feedback = slm.feedback(list(msg["score_texts"]), list(msg["score_labels"]))
    epsilon = 0.0
    if cfg.dp_noise_multiplier > 0 and feedback:
        gen = torch.Generator().manual_seed(cfg.seed * 7_919 + partition_id * 104_729 + rnd)
        feedback = privatize(feedback, cfg.dp_noise_multiplier, cfg.dp_clip, gen)
        epsilon = epsilon_spent(cfg.dp_noise_multiplier, rnd, cfg.dp_delta)  # at most one release a round

    _save(cfg, partition_id, rnd, slm)
    counts = Counter(ex.label for ex in silo.train + silo.val)
    metrics = {
        "partition_id": partition_id,
        "round": rnd,
        "num_examples": len(silo.train) + len(silo.val),
        "num_test": len(silo.test),
        "num_synthetic_train": len(syn_texts),
        # Label counts (numbers, no text): the server's synthetic label mix and label-weighted feedback.
        "label_counts": [counts[label] for label in labels],
        "best_epoch": slm.best_epoch,
        "test_accuracy": accuracy,
        "train_loss": loss,
        "compute_s": time.perf_counter() - start,
        "epsilon": epsilon,
    }
    weights_out = None
    if cfg.method == "fedavg":  # floating tensors only: integer buffers are not averaged
        weights_out = {k: v for k, v in slm.model.state_dict().items() if v.is_floating_point()}
    return feedback, metrics, weights_out


def _synthetic_weights(cfg: RunConfig, msg: dict, own_labels: list[str]) -> list[float]:
    """Each accepted sample's loss weight: `synthetic-weight` x its quality, and with `synthetic-prior-match`
    x min(1, own share of its label / synthetic share of it) (own counts add-one smoothed). The server's mix
    follows the whole federation, but this client is tested on its own skew: without this, samples of labels
    it rarely sees shift its prior away from the one its test data has."""
    weights = [cfg.synthetic_weight * w for w in msg["train_weights"]]
    syn = list(msg["train_labels"])
    if not cfg.synthetic_prior_match or not syn:
        return weights
    own, counts = Counter(own_labels), Counter(syn)
    labels = set(own) | set(counts)
    own_share = {y: (own[y] + 1) / (len(own_labels) + len(labels)) for y in labels}
    return [w * min(1.0, own_share[y] / (counts[y] / len(syn))) for w, y in zip(weights, syn, strict=True)]


def _save(cfg: RunConfig, partition_id: int, rnd: int, slm: ClientSLM) -> None:
    root = client_dir(cfg, partition_id)
    slm.save(root / f"round-{rnd}")
    for old in _saved_rounds(cfg, partition_id)[:-2]:  # the last two: a resume may restart this round
        shutil.rmtree(root / f"round-{old}", ignore_errors=True)


def _inject_faults(cfg: RunConfig, partition_id: int, rnd: int) -> None:
    """Test hooks: this client crashes, or hangs past the round timeout, in the configured round."""
    if partition_id == cfg.fail_partition and rnd == cfg.fail_round:
        raise RuntimeError(f"injected crash of client {partition_id} in round {rnd}")
    if partition_id == cfg.kill_partition and rnd == cfg.kill_round:
        os._exit(137)  # the process dies outright, as under the OOM killer: no exception, no reply
    if partition_id == cfg.hang_partition and rnd == cfg.hang_round:
        time.sleep(cfg.round_timeout + 5)
