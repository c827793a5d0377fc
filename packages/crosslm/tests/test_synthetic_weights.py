"""Client-side weights of the accepted synthetic samples: quality x synthetic-weight, optionally matched to
the client's own label mix."""

from __future__ import annotations

import pytest

from crosslm.client import _synthetic_weights
from crosslm.config import RunConfig


def msg(labels, quality):
    return {"train_labels": labels, "train_weights": quality}


def test_without_prior_match_weights_are_quality_times_synthetic_weight():
    cfg = RunConfig.from_mapping({"synthetic-weight": 0.5, "synthetic-prior-match": False})
    assert _synthetic_weights(cfg, msg(["a", "b"], [0.8, 0.4]), ["a"]) == pytest.approx([0.4, 0.2])


def test_prior_match_down_weights_labels_the_client_rarely_holds():
    cfg = RunConfig.from_mapping({"synthetic-weight": 1.0, "synthetic-prior-match": True})
    own = ["a"] * 8  # a client that holds only "a"; the server's pool is half "a", half "b"
    w = _synthetic_weights(cfg, msg(["a", "b", "a", "b"], [1.0] * 4), own)
    # own shares (add-one over the labels seen): a 9/10, b 1/10; synthetic shares 1/2 each
    assert w == pytest.approx([1.0, 0.2, 1.0, 0.2])


def test_prior_match_never_up_weights_and_handles_an_empty_pool():
    cfg = RunConfig.from_mapping({"synthetic-prior-match": True})
    w = _synthetic_weights(cfg, msg(["a", "b", "b", "b"], [0.5] * 4), ["a", "b"])
    assert max(w) <= 0.5 * cfg.synthetic_weight
    assert _synthetic_weights(cfg, msg([], []), ["a"]) == []
