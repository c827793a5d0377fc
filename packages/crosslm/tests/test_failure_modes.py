"""Fixes for skewed federations: label quotas, label-weighted / median feedback, early stopping, prompts."""

from __future__ import annotations

import pytest
import torch

from crosslm.models.llm import ServerLLM
from crosslm.models.slm import ClientSLM
from crosslm.models.tiny import build_tiny_causal_lm, build_tiny_classifier
from crosslm.server import aggregate, label_quotas
from crosslm.task import build_task


def test_label_weighted_feedback_asks_the_clients_that_can_judge():
    # Client 0 holds only label 0: its SLM calls label-0 samples good and label-1 samples bad, whatever
    # they say. Clients 1 and 2 hold both labels.
    feedback = [[1.0, 0.0], [0.2, 0.9], [0.4, 0.7]]
    counts, per_label = [40, 10, 20], [[40, 0], [2, 8], [10, 10]]
    count_weighted = aggregate(feedback, counts)
    label_weighted = aggregate(feedback, counts, "label-weighted", per_label, intended=[0, 1])
    assert count_weighted[1] == pytest.approx((0.9 * 10 + 0.7 * 20) / 70)  # the one-class client drowns it
    assert label_weighted == pytest.approx([(0.2 * 2 + 0.4 * 10) / 12, (0.9 * 2 + 0.7 * 10) / 12])
    # Where no client can judge a label, the example counts decide.
    assert aggregate([[0.4], [0.8]], [1, 3], "label-weighted", [[0, 1], [0, 3]], [0]) == pytest.approx([0.7])


def test_median_feedback_survives_one_collapsed_client():
    assert aggregate([[0.9], [0.8], [0.0]], [1, 1, 100], "median") == pytest.approx([0.8])
    assert aggregate([[0.9], [0.5]], [1, 1], "median") == pytest.approx([0.7])


def test_label_quotas_follow_what_clients_hold():
    assert label_quotas(["a", "b"], [], 10) == {"a": 10, "b": 10}  # round 1: nothing known yet
    q = label_quotas(["a", "b", "c"], [90, 9, 0], 20)
    assert q["a"] > q["b"] > q["c"] >= 1 and abs(sum(q.values()) - 60) <= 2


TEXTS = ["ball kick goal team", "run match goal ball", "soup bread salt eat", "cook bake soup salt"] * 3
LABELS = ["sports", "sports", "food", "food"] * 3


def test_early_stopping_keeps_the_best_validation_epoch(tmp_path):
    path = build_tiny_classifier(tmp_path / "slm", "bert", TEXTS, ["food", "sports"], hidden=16)
    wrong = ["food" if y == "sports" else "sports" for y in LABELS]  # training flips every label
    trained = {}
    for use_val in (False, True):
        torch.manual_seed(0)
        slm = ClientSLM(path, ["food", "sports"])
        val = (TEXTS, LABELS) if use_val else None
        slm.train(TEXTS, wrong[:6] + LABELS[6:], epochs=6, lr=0.02, batch_size=4, seed=0, val=val)
        trained[use_val] = (slm.accuracy(TEXTS, LABELS), slm.best_epoch)
    (last_acc, last_epoch), (kept_acc, kept_epoch) = trained[False], trained[True]
    assert last_epoch == 0 and 1 <= kept_epoch <= 6 and kept_acc >= last_acc


def test_prompts_the_tokenizer_cannot_write_are_refused(tmp_path):
    corpus = ["sports : ball kick goal", "food : soup bread salt"] * 10
    plain = build_tiny_causal_lm(tmp_path / "plain", "llama", corpus, hidden=16)
    with pytest.raises(ValueError, match="cannot represent"):
        ServerLLM(plain).check_prompts(build_task("topic", labels=["sports", "AI"]))
    known = build_tiny_causal_lm(tmp_path / "known", "llama", corpus, hidden=16, extra_vocab=["AI :"])
    ServerLLM(known).check_prompts(build_task("topic", labels=["sports", "AI"]))
