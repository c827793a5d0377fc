"""Seeded end to end: the same seed gives the same LLM pretraining and the same client round, twice."""

from __future__ import annotations

import torch

from crosslm.client import run_round
from crosslm.config import RunConfig
from crosslm.data import read_silo, write_silos
from crosslm.models.tiny import build_tiny_causal_lm

CORPUS = ["sports : ball kick goal team", "food : soup bread salt", "ball soup the a of"] * 20


def _weights(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_llm_pretraining_is_seeded(tmp_path):
    a, b, c = (
        build_tiny_causal_lm(tmp_path / name, "llama", CORPUS, hidden=16, pretrain_epochs=2, seed=seed)
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    )
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_silos_and_a_client_round_are_seeded(world_run, tmp_path):
    results = []
    for name in ("one", "two"):
        cfg = RunConfig.from_mapping(
            {
                "data-path": str(world_run["export"]),
                "task-labels": world_run["labels"],
                "slms": world_run["slms"],
                "out-dir": str(tmp_path / name),
                "silo-dir": str(tmp_path / name / "silos"),
                "slm-epochs": 2,
            }
        )
        fed = write_silos(cfg, 3, cfg.silo_dir)
        labels, silo = read_silo(cfg.silo_dir, 1)
        assert labels == fed.task.labels and silo == fed.silos[1]  # the client's file: its silo only
        msg = {
            "round": 1,
            "score_texts": ["a b"],
            "score_labels": [labels[0]],
            "train_texts": [],
            "train_labels": [],
            "train_weights": [],
        }
        feedback, metrics, _ = run_round(cfg, 1, msg)
        metrics.pop("compute_s")
        results.append((feedback, metrics))
    assert results[0] == results[1]
