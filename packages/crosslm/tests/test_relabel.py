"""Per-label feedback (`relabel`): the federation's score of every label, the consensus label, the
protocol."""

from __future__ import annotations

import pytest
from flwr.app import MetricRecord, RecordDict

from crosslm import protocol
from crosslm.client import run_round
from crosslm.config import ConfigError, RunConfig
from crosslm.data import write_silos
from crosslm.server import _balanced, aggregate_per_label, majority_vote, relabel


def test_a_client_that_never_saw_a_label_cannot_vote_for_it():
    # Two samples, labels (a, b, c). Client 0 holds only a and b; client 1 holds a and c; client 2 only a.
    probs = [
        [[0.1, 0.9, 0.0], [0.1, 0.9, 0.0]],  # client 0: calls both samples b
        [[0.2, 0.0, 0.8], [0.9, 0.0, 0.1]],  # client 1
        [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],  # client 2: its SLM calls everything a
    ]
    label_counts = [[10, 5, 0], [4, 0, 6], [30, 0, 0]]
    cons = aggregate_per_label(probs, [15, 10, 30], "label-weighted", label_counts)
    # Label a: client 0 weight min(10, 5) = 5, client 1 min(4, 6) = 4, client 2 min(30, 0) = 0.
    assert cons[0][0] == pytest.approx((0.1 * 5 + 0.2 * 4) / 9)
    # Label b: only client 0 (weight 5) votes; label c: only client 1 (weight 4).
    assert cons[0][1] == pytest.approx(0.9) and cons[0][2] == pytest.approx(0.8)
    assert cons[1][2] == pytest.approx(0.1)  # client 0's 0.0 for c is not a vote: it never saw c
    # By count the one-label client drowns label a.
    by_count = aggregate_per_label(probs, [15, 10, 30], "count-weighted", label_counts)
    assert by_count[0][0] == pytest.approx((0.1 * 15 + 0.2 * 10 + 1.0 * 30) / 55)


def test_a_label_no_client_can_judge_scores_zero():
    probs = [[[0.3, 0.7]], [[0.6, 0.4]]]
    cons = aggregate_per_label(probs, [5, 5], "label-weighted", [[5, 0], [3, 0]])  # nobody holds label 1
    assert cons == [[0.0, 0.0]]
    median = aggregate_per_label([[[0.9, 0.1]], [[0.5, 0.5]], [[0.0, 1.0]]], [1, 1, 9], "median")
    assert median == [[0.5, 0.5]]


def test_relabel_takes_the_consensus_argmax_with_threshold_and_margin():
    cons = [[0.1, 0.8, 0.1], [0.45, 0.40, 0.15], [0.2, 0.2, 0.3]]
    assert relabel(cons, ["a", "b", "c"], 0.35) == [("b", 0.8, True), ("a", 0.45, True), ("c", 0.3, False)]
    assert [kept for *_, kept in relabel(cons, ["a", "b", "c"], 0.35, margin=0.1)] == [True, False, False]


def test_per_label_replies_carry_one_probability_per_label_per_sample():
    metrics = {"num_examples": 4, "label_counts": [2, 2, 0]}
    ok = protocol.client_reply([0.2, 0.7, 0.1] * 2, metrics, per_label=True)
    protocol.validate_reply(ok, 2, num_labels=3)
    with pytest.raises(protocol.ProtocolError, match="scores"):
        protocol.validate_reply(ok, 3, num_labels=3)
    with pytest.raises(protocol.ProtocolError, match="'quality'"):
        protocol.validate_reply(ok, 6)  # the server expects one score a sample: a per-label reply is refused
    with pytest.raises(protocol.ProtocolError, match="label_counts"):
        protocol.client_reply([0.5, 0.5], {"num_examples": 4}, per_label=True)
    wrong = RecordDict(
        {
            protocol.FEEDBACK: MetricRecord({protocol.LABEL_PROBS: [0.5, 0.5]}),
            protocol.METRICS: MetricRecord({"label_counts": [1, 1, 1]}),
        }
    )
    with pytest.raises(protocol.ProtocolError, match="scores"):
        protocol.validate_reply(wrong, 1, num_labels=3)


def test_relabel_is_refused_in_response_mode():
    with pytest.raises(ConfigError, match="relabel"):
        RunConfig.from_mapping({"mode": "response", "method": "crosslm", "relabel": True})
    with pytest.raises(ConfigError, match="relabel-margin"):
        RunConfig.from_mapping({"relabel-margin": 1.5})


def test_a_client_round_reports_every_label_and_dp_noises_the_vector(world_run, tmp_path):
    cfg = RunConfig.from_mapping(
        {
            "data-path": str(world_run["export"]),
            "task-labels": world_run["labels"],
            "slms": world_run["slms"],
            "out-dir": str(tmp_path / "run"),
            "silo-dir": str(tmp_path / "silos"),
            "slm-epochs": 1,
            "relabel": True,
        }
    )
    write_silos(cfg, 2, cfg.silo_dir)
    labels = world_run["labels"].split(",")
    score = ["a text to judge", "another one"]
    msg = {
        "round": 1,
        "score_texts": score,
        "score_labels": labels[:2],
        "train_texts": [],
        "train_labels": [],
        "train_weights": [],
    }
    feedback, metrics, _ = run_round(cfg, 0, msg)
    assert len(feedback) == len(score) * len(labels)
    for i in range(len(score)):  # a probability distribution over the labels per sample
        assert sum(feedback[i * len(labels) : (i + 1) * len(labels)]) == pytest.approx(1.0)
    reply = protocol.client_reply(feedback, metrics, per_label=True)
    protocol.validate_reply(reply, 2, num_labels=len(labels))
    dp = cfg.replace(dp_noise_multiplier=1.0, out_dir=str(tmp_path / "dp"))
    noisy, metrics_dp, _ = run_round(dp, 0, msg)
    assert len(noisy) == len(feedback) and noisy != feedback and all(0 <= q <= 1 for q in noisy)
    assert 0 < metrics_dp["epsilon"] < float("inf")


def test_normalizing_removes_a_clients_label_prior():
    # Client 0's SLM gives label a 0.9 whatever the sample; client 1 tells the samples apart.
    probs = [[[0.9, 0.1], [0.9, 0.1]], [[0.8, 0.2], [0.2, 0.8]]]
    raw = aggregate_per_label(probs, [1, 1], "count-weighted")
    assert [max(range(2), key=row.__getitem__) for row in raw] == [0, 0]  # client 0 labels both a
    cons = aggregate_per_label(probs, [1, 1], "count-weighted", normalize=True)
    assert cons[0][0] > cons[0][1] and cons[1][1] > cons[1][0]  # normalized, client 1 decides
    assert all(sum(row) == pytest.approx(1.0) for row in cons)


def test_relabelled_samples_are_balanced_across_labels():
    # Three samples relabelled a, one b, two labels: a is down-weighted to an even share, b is kept whole.
    out = _balanced([["x", "a", 0.9], ["y", "a", 0.6], ["z", "a", 0.3], ["w", "b", 0.5]], 2)
    assert [q for *_, q in out] == pytest.approx([0.6, 0.4, 0.2, 0.5])


def test_majority_vote_keeps_a_label_two_of_three_judges_give():
    # (consensus label, score, consensus kept) per sample; intended labels; the LLM scorer's labels.
    judged = [("a", 0.9, True), ("b", 0.9, True), ("c", 0.1, False), ("a", 0.8, True), ("b", 0.3, True)]
    intended = ["a", "a", "c", "b", "c"]
    predicted = ["b", "b", "c", "c", "a"]
    out = majority_vote(judged, intended, predicted)
    assert out[0] == ("a", 1.0, True)  # written for a, clients say a: kept although the LLM says b
    assert out[1] == ("b", 1.0, True)  # clients and LLM agree on b: relabelled
    assert out[2] == ("c", 1.0, True)  # clients abstain; intended == LLM: kept (filtered KD's rule)
    assert out[3][2] is False  # three different labels: no majority
    assert out[4][2] is False


def test_relabel_vote_is_checked():
    with pytest.raises(ConfigError, match="relabel-vote"):
        RunConfig.from_mapping({"relabel-vote": "unanimous"})
