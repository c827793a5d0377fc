"""The real thing: `flwr run` on the Ray simulation backend, 3 clients x 2 rounds, then a resume.

Client 0's process is killed outright in round 1 (`os._exit`) and client 2's ClientApp raises in round 2:
each round goes on without them, and client 0 is back in round 2. Every message each client sends is
recorded by the ClientApp's audit mod and checked against its private data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crosslm.config import RunConfig
from crosslm.data import read_silo
from crosslm.protocol import METRIC_KEYS
from crosslm.runner import run

pytestmark = pytest.mark.slow


def _config(world_run, out: Path, audit: Path, **extra) -> RunConfig:
    return RunConfig.from_mapping(
        {
            "data-path": str(world_run["export"]),
            "task-labels": world_run["labels"],
            "llm": str(world_run["llm"]),
            "slms": world_run["slms"],
            "general-text": str(world_run["general"]),
            "out-dir": str(out),
            "audit-dir": str(audit),
            "num-rounds": 2,
            "samples-per-label": 6,
            "max-new-tokens": 10,
            "slm-epochs": 1,
            "llm-epochs": 1,
            "threshold": 0.3,
            "min-clients": 3,
            "partition-by": "dirichlet",
            "dirichlet-alpha": 1.0,
            "fail-partition": 2,
            "fail-round": 2,
            "kill-partition": 0,
            "kill-round": 1,
            "round-timeout": 120.0,
            **extra,
        }
    )


def test_flower_rounds_crash_audit_and_resume(world_run, tmp_path):
    out, audit = tmp_path / "run", tmp_path / "audit"
    audit.mkdir()
    events = []
    cfg = _config(world_run, out, audit)
    summary = run(cfg, num_supernodes=3, client_cpus=1.0, ray_cpus=2, on_event=events.append)

    # Rounds, progress events, faults: a killed client process costs only its round.
    rounds_seen = [e["record"]["round"] for e in events if e["kind"] == "round"]
    assert [r["round"] for r in summary["rounds"]] == [1, 2] == rounds_seen
    assert any(e["kind"] == "progress" and e["done"] == e["total"] for e in events)  # LLM eval, with a total
    r1, r2 = summary["rounds"]
    assert r1["num_ok"] == 2 and len(r1["failed"]) == 1 and "worker process died" in r1["failed"][0]["reason"]
    assert sorted(c["partition_id"] for c in r1["clients"]) == [1, 2]
    assert r2["num_ok"] == 2 and len(r2["failed"]) == 1 and "injected crash" in r2["failed"][0]["reason"]
    assert sorted(c["partition_id"] for c in r2["clients"]) == [0, 1]
    # CrossLM itself: feedback came back, samples were accepted into the pool clients learn from next.
    assert 12 <= r1["generated"] <= 18 and 0 <= r1["accepted"] <= r1["generated"]  # empty samples are dropped
    assert r2["clients"][0]["num_synthetic_train"] == r1["pool"] == r1["accepted"]
    assert {"llm_task_accuracy", "llm_general_ppl"} <= set(r2) and summary["initial"]["llm_general_ppl"] > 1
    # Heterogeneous SLMs (BERT for even clients, GPT-2 for odd ones) were trained and saved per client.
    for pid, model_type in ((0, "bert"), (1, "gpt2")):
        saved = out / "clients" / f"client-{pid}" / "round-2" / "config.json"
        assert json.loads(saved.read_text())["model_type"] == model_type
    assert (out / "llm" / "adapter_config.json").exists()  # LoRA adapter, not a full model copy
    assert (out / "report.png").stat().st_size > 1000 and (out / "checkpoint" / "state.json").exists()
    assert sorted(p.name for p in (out / "metrics").glob("*.json")) == ["round-001.json", "round-002.json"]

    # Boundary: every message each client sent holds only numbers under whitelisted keys (feedback,
    # counts, metrics), or an error reply; nothing of the client's private text or labels.
    for pid in range(3):
        sent = [json.loads(line) for line in (audit / f"client-{pid}.jsonl").read_text().splitlines()]
        assert len(sent) == 2
        _, silo = read_silo(out / "silos", pid)
        private = {ex.text for ex in silo.train + silo.val + silo.test}
        private_words = {w for t in private for w in t.split()}
        for rnd, msg in enumerate(sent, start=1):
            if "error" in msg:
                reason = msg["error"]["reason"]
                assert (
                    (pid, rnd) == (2, 2)
                    and "injected crash" in reason
                    or (pid, rnd) == (0, 1)
                    and ("worker process died" in reason)
                )
                continue
            assert set(msg["content"]) == {"feedback", "metrics"}
            assert {rec["kind"] for rec in msg["content"].values()} == {"metric"}
            assert set(msg["content"]["metrics"]["values"]) <= METRIC_KEYS
            quality = msg["content"]["feedback"]["values"]["quality"]
            assert len(quality) == summary["rounds"][rnd - 1]["generated"] and all(
                0 <= q <= 1 for q in quality
            )
            flat = json.dumps(msg)
            assert not any(
                isinstance(v, str) for rec in msg["content"].values() for v in rec["values"].values()
            )
            assert not any(word in flat for word in private_words if len(word) > 5)

    # Resume: one more round from the checkpoint; rounds 1-2 are kept, not recomputed.
    cfg3 = cfg.replace(num_rounds=3, resume=True, fail_partition=-1, kill_partition=-1, audit_dir="")
    summary3 = run(cfg3, num_supernodes=3, client_cpus=1.0, ray_cpus=2)
    assert [r["round"] for r in summary3["rounds"]] == [1, 2, 3]
    assert summary3["rounds"][:2] == summary["rounds"]
    assert summary3["rounds"][2]["num_ok"] == 3
    assert (out / "clients" / "client-2" / "round-3").is_dir()


@pytest.mark.parametrize("vote", ["consensus", "majority"])
def test_flower_rounds_with_per_label_feedback_relabel_the_pool(world_run, tmp_path, vote):
    """`relabel` end to end, DP on: each client sends every label's noised probability per sample (numbers
    only), the server relabels the pool by the consensus (or the majority of intended label, LLM scorer
    and consensus) and the LLM is tuned on it."""
    out, audit = tmp_path / "run", tmp_path / "audit"
    audit.mkdir()
    extra = {"fail-partition": -1, "kill-partition": -1, "relabel": True, "server-filter": False}
    extra["relabel-vote"] = vote
    cfg = _config(world_run, out, audit, **extra, **{"dp-noise-multiplier": 0.3, "threshold": 0.34})
    summary = run(cfg, num_supernodes=3, client_cpus=1.0, ray_cpus=2)
    labels = world_run["labels"].split(",")
    r1, r2 = summary["rounds"]
    assert r1["num_ok"] == r2["num_ok"] == 3 and r1["epsilon"] > 0
    assert 0 <= r1["relabelled"] <= r1["accepted"] <= r1["generated"] and "llm_train_samples" in r1
    assert r2["clients"][0]["num_synthetic_train"] == r1["pool"] == r1["accepted"]
    pool = json.loads((out / "checkpoint" / "state.json").read_text())["pool"]
    assert all(y in labels and 0 < q <= 1 for _, y, q in pool)  # consensus score x the label balance
    for pid in range(3):
        sent = [json.loads(line) for line in (audit / f"client-{pid}.jsonl").read_text().splitlines()]
        _, silo = read_silo(out / "silos", pid)
        private_words = {w for ex in silo.train + silo.val + silo.test for w in ex.text.split()}
        for rnd, msg in enumerate(sent, start=1):
            assert set(msg["content"]) == {"feedback", "metrics"}
            assert set(msg["content"]["metrics"]["values"]) <= METRIC_KEYS
            probs = msg["content"]["feedback"]["values"]["label_probs"]
            assert len(probs) == summary["rounds"][rnd - 1]["generated"] * len(labels)
            assert all(0 <= p <= 1 for p in probs)
            assert not any(word in json.dumps(msg) for word in private_words if len(word) > 5)
