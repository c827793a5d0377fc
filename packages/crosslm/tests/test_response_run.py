"""Response mode for real: `flwr run` on the Ray simulation backend from a collector-style JSONL export of
rated conversations, 3 contributors as 3 clients x 2 rounds. Every message each client sends is recorded by
the audit mod and checked against its private rated conversations: only scores and counts leave."""

from __future__ import annotations

import json

import pytest

from crosslm.config import RunConfig
from crosslm.data import read_silo
from crosslm.protocol import METRIC_KEYS
from crosslm.runner import run

pytestmark = pytest.mark.slow


def test_response_rounds_on_ray_send_only_scores(rated_run, tmp_path):
    out, audit = tmp_path / "run", tmp_path / "audit"
    audit.mkdir()
    cfg = RunConfig.from_mapping(
        {
            "mode": "response",
            "data-path": str(rated_run["export"]),
            "prompts-path": str(rated_run["prompts"]),
            "response-template": rated_run["template"],
            "llm": str(rated_run["llm"]),
            "slms": rated_run["slms"],
            "general-text": str(rated_run["general"]),
            "partition-by": "user_id",
            "out-dir": str(out),
            "audit-dir": str(audit),
            "num-rounds": 2,
            "prompts-per-round": 6,
            "answers-per-prompt": 2,
            "max-new-tokens": 8,
            "slm-epochs": 1,
            "llm-epochs": 1,
            "threshold": 0.0,  # every prompt's best answer is learned from: the LLM must move
            "agree-margin": 0.0,
            "regularizer": "lora+replay",
            "min-clients": 3,
            "dp-noise-multiplier": 1.0,
            "round-timeout": 120.0,
        }
    )
    summary = run(cfg, num_supernodes=3, client_cpus=1.0, ray_cpus=2)
    r1, r2 = summary["rounds"]
    assert r1["num_ok"] == r2["num_ok"] == 3 and 6 <= r1["generated"] <= 12  # empty answers are dropped
    assert 1 <= r1["llm_train_samples"] <= 6  # at most the best of each prompt's 2 answers
    assert r2["clients"][0]["num_synthetic_train"] == r1["pool"] > 0  # agreed answers reach the RMs
    assert r2["epsilon"] > r1["epsilon"] > 0  # DP on the scores, accounted over rounds
    assert summary["rounds"][-1]["llm_general_ppl"] != summary["initial"]["llm_general_ppl"]  # it was tuned
    before = json.loads((out / "answers-before.json").read_text())
    after = json.loads((out / "answers-after.json").read_text())
    assert len(before) == len(after) == 8 and [b["prompt"] for b in before] == [a["prompt"] for a in after]

    # Boundary: each client's messages hold only scores and whitelisted numbers, no private text.
    for pid in range(3):
        sent = [json.loads(line) for line in (audit / f"client-{pid}.jsonl").read_text().splitlines()]
        assert len(sent) == 2
        _, silo = read_silo(out / "silos", pid)
        private_words = {w for ex in silo.train + silo.val + silo.test for w in ex.text.split() if len(w) > 4}
        assert private_words
        for rnd, msg in enumerate(sent, start=1):
            assert set(msg["content"]) == {"feedback", "metrics"}
            assert set(msg["content"]["metrics"]["values"]) <= METRIC_KEYS
            quality = msg["content"]["feedback"]["values"]["quality"]
            assert len(quality) == summary["rounds"][rnd - 1]["generated"] and all(
                0 <= q <= 1 for q in quality
            )
            values = [v for rec in msg["content"].values() for v in rec["values"].values()]
            assert not any(isinstance(v, str) for v in values)
            assert not any(word in json.dumps(msg) for word in private_words)
