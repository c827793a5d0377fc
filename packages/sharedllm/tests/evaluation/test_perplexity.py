import math

import pytest
import torch
import torch.nn.functional as F

from sharedllm.evaluation.perplexity import (
    PplSetup,
    evaluate_perplexity,
    other_document_order,
    plot_ppl,
    ppl_table,
    score_last,
    window_use,
)
from sharedllm.tiny import tiny_base_model, tiny_sharedllm

SETUP = PplSetup(
    lengths=(128, 256), score_len=16, window=64, sink_tokens=4, chunk_size=32, upper_len=64, full_max_len=128
)


def _docs(n=3, length=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(3, 256, (length,), generator=g) for _ in range(n)]


def test_score_last_is_the_mean_cross_entropy_of_the_last_tokens():
    model = tiny_base_model(seed=0)
    ids = _docs(1)[0][:50]
    nll, n = score_last(model, ids, 10)
    logits = model(ids[None]).logits[0, -11:-1]
    assert n == 10
    assert nll == pytest.approx(F.cross_entropy(logits, ids[-10:], reduction="sum").item(), rel=1e-5)


def test_window_use_scores_the_same_tokens_with_the_given_lead():
    model = tiny_base_model(seed=0)
    docs = _docs(2, length=80)
    use = window_use(model, docs, 16, (4, 48))
    for before in (4, 48):
        scores = [score_last(model, d[-(16 + before) :], 16) for d in docs]
        assert use[before] == pytest.approx(math.exp(sum(s for s, _ in scores) / 32), rel=1e-6)
    assert use[4] != use[48]  # the lead really changes what the model reads
    with pytest.raises(ValueError, match="at least 1 token"):
        window_use(model, docs, 16, (0,))


def test_methods_read_the_context_they_claim(monkeypatch):
    """Each method hands the model exactly the tokens its definition says (checked on the real inputs)."""
    base, shared = tiny_base_model(seed=0), tiny_sharedllm(seed=0, chunk_size=32, upper_window=64)
    seen = []
    for model in (base, shared):
        forward = model.forward

        def spy(*args, _forward=forward, **kwargs):
            seen.append(kwargs)
            return _forward(*args, **kwargs)

        monkeypatch.setattr(model, "forward", spy)
    x, y = _docs(2, length=128)
    evaluate_perplexity(
        [x, y],
        PplSetup(**{**SETUP.__dict__, "lengths": (128,)}),
        ["truncated", "sinks", "full", "sharedllm", "sharedllm-other", "sharedllm-none"],
        base=base,
        sharedllm=shared,
    )
    truncated, sinks, full, own, other, none = (s for s in seen[:6])
    assert torch.equal(truncated["input_ids"][0], x[-64:])
    assert torch.equal(sinks["input_ids"][0], torch.cat([x[:4], x[-60:]]))
    assert torch.equal(full["input_ids"][0], x)
    assert torch.equal(own["input_ids"][0], x[-64:])
    assert torch.equal(own["context_input_ids"][0].flatten(), x[:64])  # 64 tokens before the upper text
    assert torch.equal(other["input_ids"][0], x[-64:])
    assert torch.equal(other["context_input_ids"][0].flatten(), y[:64])  # the other document's context
    assert "context_input_ids" not in none


def test_untrained_sharedllm_equals_its_base_model_on_the_same_window():
    """o_proj starts at zero: before training, context cannot change a prediction (the paper's intent)."""
    base = tiny_base_model(seed=0)
    shared = tiny_sharedllm(seed=0, chunk_size=32, upper_window=64)
    rows = evaluate_perplexity(
        _docs(), SETUP, ["truncated", "sharedllm", "sharedllm-other"], base=base, sharedllm=shared
    )
    ppl = {(r.method, r.length): r.ppl for r in rows}
    for length in SETUP.lengths:
        assert ppl[("sharedllm", length)] == pytest.approx(ppl[("truncated", length)], rel=1e-4)
        assert ppl[("sharedllm-other", length)] == pytest.approx(ppl[("truncated", length)], rel=1e-4)


def test_rows_table_and_plot(tmp_path):
    base = tiny_base_model(seed=0)
    rows = evaluate_perplexity(_docs(), SETUP, ["truncated", "sinks", "full"], base=base)
    assert {(r.method, r.length) for r in rows} == {
        ("truncated", 128),
        ("truncated", 256),
        ("sinks", 128),
        ("sinks", 256),
        ("full", 128),  # full: <= 128
    }
    assert all(r.tokens == 3 * 16 and r.docs == 3 and math.isfinite(r.ppl) for r in rows)
    table = ppl_table(rows)
    assert "| base, full attention (RoPE unscaled) | " in table and "—" in table
    assert plot_ppl(rows, tmp_path / "ppl.png").stat().st_size > 0


def test_other_document_comes_from_another_group():
    order = other_document_order(["a", "a", "b", "c", "c"])
    assert all(order[i] != i for i in range(5))
    groups = ["a", "a", "b", "c", "c"]
    assert all(groups[order[i]] != groups[i] for i in range(5))


def test_bad_requests_are_named():
    base = tiny_base_model(seed=0)
    with pytest.raises(ValueError, match="no document has the 256 tokens"):
        evaluate_perplexity(_docs(length=200), SETUP, ["truncated"], base=base)
    with pytest.raises(ValueError, match="unknown method"):
        evaluate_perplexity(_docs(), SETUP, ["nope"], base=base)
    with pytest.raises(ValueError, match="need a SharedLLM"):
        evaluate_perplexity(_docs(), SETUP, ["sharedllm"], base=base)
    with pytest.raises(ValueError, match="score_len"):
        PplSetup(lengths=(128,), score_len=100, window=64)


def test_paired_gain_compares_the_same_documents():
    from sharedllm.evaluation.perplexity import PplRow, paired_gain

    a = PplRow("sharedllm", 128, 0.0, 0.0, 0, 3, [1.0, 2.0, 3.0])
    b = PplRow("truncated", 128, 0.0, 0.0, 0, 3, [1.5, 2.5, 2.9])
    gain = paired_gain([a, b], "sharedllm", "truncated", 128)
    assert gain["docs_won"] == 2 and gain["docs"] == 3
    assert gain["ppl_ratio"] == pytest.approx(math.exp((-0.5 - 0.5 + 0.1) / 3))
    lo, hi = gain["ratio_ci95"]
    assert lo < gain["ppl_ratio"] < hi
    assert paired_gain([a], "sharedllm", "truncated", 128) is None
