"""Retrieval from far back: synthetic training examples (query = the question, never the answer), the
retrieval heat-map benchmark, and the perplexity bench's RoPE-scaled, sinks and clustered-interval parts."""

import math
import re

import pytest
import torch

from sharedllm.data.chunking import IGNORE_INDEX, collate_chunked
from sharedllm.data.retrieval import answer_ids, copy_blocks, retrieval_example, retrieval_examples
from sharedllm.evaluation.passkey import PasskeyTemplate
from sharedllm.evaluation.perplexity import (
    PplRow,
    PplSetup,
    clustered_se,
    paired_gain,
    rope_scaled,
    score_method,
)
from sharedllm.evaluation.retrieval import (
    chance_accuracy,
    mean_over_depths,
    plot_retrieval,
    retrieval_table,
    run_retrieval,
    wilson_interval,
)
from sharedllm.tiny import tiny_base_model, tiny_sharedllm


@pytest.mark.parametrize("depth", [0.0, 0.4, 1.0])
def test_a_retrieval_example_labels_only_the_answer_and_queries_at_the_question(tokenizer, depth):
    template = PasskeyTemplate.text()
    ex = retrieval_example(tokenizer, template, 700, depth, "48213", chunk_size=64, upper_len=128)
    answer = answer_ids(tokenizer, "48213")
    labelled = (ex.labels != IGNORE_INDEX).nonzero().flatten()
    # The loss is on the answer only: the last len(answer) tokens of the running text.
    assert labelled.tolist() == list(range(ex.input_ids.numel() - len(answer), ex.input_ids.numel()))
    assert ex.input_ids[-len(answer) :].tolist() == answer
    # The query span ends at the question's last token, right before the answer: it never reads the answer.
    assert ex.query_end == ex.input_ids.numel() - len(answer) - 1
    assert tokenizer.decode(ex.input_ids[: ex.query_end + 1]).endswith(template.question)
    # Serving's layout: start-anchored 64-token chunks, at most 128 tokens of running text.
    assert ex.context_input_ids.shape[1] == 64 and ex.input_ids.numel() <= 128
    whole = torch.cat([ex.context_input_ids.flatten(), ex.input_ids])
    assert tokenizer.decode(whole).count("48213") == 3  # twice in the needle, once as the answer


def test_retrieval_examples_vary_and_mostly_hide_the_key_in_the_chunks(tokenizer):
    examples = retrieval_examples(tokenizer, 40, n_chunks=6, chunk_size=128, upper_len=256, seed=3)
    assert len({ex.context_input_ids.shape[0] for ex in examples}) > 2  # 1..6 chunks
    in_chunks = 0
    for ex in examples:
        key = tokenizer.decode(ex.input_ids[ex.query_end + 1 :]).strip()
        assert len(key) == 5 and key.isdigit()
        in_chunks += key not in tokenizer.decode(ex.input_ids[: ex.query_end + 1])
    assert in_chunks >= 28  # far_fraction 0.8: mostly out of the running text, only the context holds it
    batch = collate_chunked(examples[:4], pad_token_id=0)
    assert batch["query_positions"].tolist() == [ex.query_end for ex in examples[:4]]
    with pytest.raises(ValueError, match="templates"):
        retrieval_examples(tokenizer, 2, 2, 64, 128, templates=("poem",))


def test_copy_blocks_reward_copying_inside_the_window(tokenizer):
    blocks = copy_blocks(tokenizer, 40, 256, repeat_fraction=0.5, seed=0)
    assert blocks.shape == (40, 256) and blocks.dtype == torch.long
    assert torch.equal(blocks, copy_blocks(tokenizer, 40, 256, repeat_fraction=0.5, seed=0))
    assert not torch.equal(blocks, copy_blocks(tokenizer, 40, 256, repeat_fraction=0.5, seed=1))
    texts = [tokenizer.decode(b) for b in blocks]
    passkey = [i for i, t in enumerate(texts) if "PASS_KEY" in t or "pass key" in t]
    assert 8 < len(passkey) < 32  # about half of the blocks
    answered, eos = 0, re.escape(tokenizer.eos_token)  # an answer cut by the block's end has no EOS
    for i in passkey:  # every complete prompt is answered with its own key
        code = r"PASS_KEY = (\d+)\n(?:.*\n)*?assert PASS_KEY == (\d+)" + eos
        for needle, answer in re.findall(code, texts[i]):
            assert needle == answer
            answered += 1
        text = r"The pass key is (\d+)\. Remember it\.(?:.|\n)*?What is the pass key\? The pass key is (\d+)"
        for needle, answer in re.findall(text + eos, texts[i]):
            assert needle == answer
            answered += 1
    assert answered >= len(passkey)
    for i in set(range(40)) - set(passkey):  # the others repeat a span of ordinary tokens
        row = blocks[i].tolist()
        assert min(row) > max(tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
        grams = [tuple(row[j : j + 4]) for j in range(len(row) - 3)]
        assert len(set(grams)) < len(grams)
    periodic = copy_blocks(tokenizer, 4, 128, repeat_fraction=1.0, period_fraction=1.0, seed=0)
    for row in periodic.tolist():  # short patterns over and over: each token recurs 2 or 3 tokens later
        assert sum(row[j] in (row[j + 2], row[j + 3]) for j in range(120)) > 80  # random: ~0
    with pytest.raises(ValueError, match="period_fraction"):
        copy_blocks(tokenizer, 2, 256, period_fraction=2.0)
    with pytest.raises(ValueError, match="templates"):
        copy_blocks(tokenizer, 2, 256, templates=("poem",))
    with pytest.raises(ValueError, match="block_len 12 is too short"):
        copy_blocks(tokenizer, 2, 12, repeat_fraction=0.0)


def test_the_retrieval_benchmark_runs_every_method_and_draws_heat_maps(tokenizer, tmp_path):
    shared = tiny_sharedllm(seed=0, vocab_size=len(tokenizer), chunk_size=32, upper_window=64)
    base = tiny_base_model(seed=0, vocab_size=len(tokenizer), max_position_embeddings=64)
    methods = ["sharedllm-query", "sharedllm-right", "truncated", "full-yarn"]
    lengths, depths = [256, 384], [0.0, 1.0]
    res = run_retrieval(
        shared, base, tokenizer, methods, ["text", "python"], lengths, depths, 1, 64, 64, full_max_len=256
    )
    assert set(res) == {"text", "python"} and set(res["text"]) == set(methods)
    assert res["text"]["full-yarn"][0][1] is None and res["text"]["full-yarn"][0][0] is not None
    assert shared.config.selection_policy == "right"  # restored after the query-aware runs
    assert mean_over_depths([[1.0, None], [0.0, None]]) == [0.5, None]
    assert "YaRN" in retrieval_table(res, lengths)
    assert "(" in retrieval_table(res, lengths, prompts_per_length=2)
    assert plot_retrieval(res, lengths, depths, tmp_path / "r.png").stat().st_size > 0
    assert chance_accuracy(5) == pytest.approx(1 / 90000)
    with pytest.raises(ValueError, match="base model"):
        run_retrieval(shared, None, tokenizer, ["truncated"], ["text"], lengths, depths, 1, 64, 64)


@pytest.mark.parametrize("rope_type", ["linear", "dynamic", "yarn"])
def test_rope_scaled_keeps_the_weights_and_changes_the_positions(rope_type):
    base = tiny_base_model(seed=0, max_position_embeddings=64).eval()
    scaled = rope_scaled(base, rope_type, window=64, length=256)
    assert scaled.config.rope_parameters["rope_type"] == rope_type
    for (name, p), (_, q) in zip(base.state_dict().items(), scaled.state_dict().items(), strict=True):
        assert torch.equal(p, q), name
    x = torch.randint(3, 256, (1, 256), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (base(x).logits[0, -1] - scaled(x).logits[0, -1]).abs().max().item()
    assert diff > 1e-4  # past the window the scaled model reads positions differently


def test_sinks_are_the_documents_own_first_tokens():
    base = tiny_base_model(seed=0, max_position_embeddings=64).eval()
    setup = PplSetup(lengths=(128,), score_len=8, window=32, sink_tokens=4, chunk_size=16, upper_len=32)
    doc = torch.randint(3, 256, (300,), generator=torch.Generator().manual_seed(1))
    x = doc[-128:]
    own = score_method("sinks", x, None, setup, base=base, head=doc)
    reference = score_method("truncated", torch.cat([doc[:4], x[-28:]]), None, setup, base=base)
    window_start = score_method("sinks", x, None, setup, base=base)  # the old behaviour: x's first tokens
    assert own == reference and own != window_start


def test_clustered_intervals_widen_when_documents_of_a_package_agree():
    diffs = [0.1, 0.1, 0.1, -0.05, -0.05, -0.05, 0.02, 0.02]
    groups = ["a", "a", "a", "b", "b", "b", "c", "c"]
    plain = clustered_se(diffs, None)
    assert clustered_se(diffs, groups) > 1.5 * plain
    # One document per cluster: the ordinary standard error (times sqrt(n / (n - 1)) * sqrt((n-1)/n) = 1).
    assert clustered_se(diffs, [str(i) for i in range(8)]) == pytest.approx(plain)
    assert math.isinf(clustered_se(diffs, ["a"] * 8))
    a = PplRow("sharedllm", 128, 1.0, 0.0, 8, 8, [1.0 + d for d in diffs], groups)
    b = PplRow("truncated", 128, 1.0, 0.0, 8, 8, [1.0] * 8, groups)
    gain = paired_gain([a, b], "sharedllm", "truncated", 128)
    assert gain["clusters"] == 3
    mean, se = sum(diffs) / 8, clustered_se(diffs, groups)
    assert gain["ratio_ci95"] == pytest.approx([math.exp(mean - 2 * se), math.exp(mean + 2 * se)])


def test_wilson_interval_matches_the_textbook_values():
    lo, hi = wilson_interval(14, 50)  # 28% of 50 prompts
    assert lo == pytest.approx(0.1747, abs=1e-3) and hi == pytest.approx(0.4167, abs=1e-3)
    assert wilson_interval(0, 25)[0] == 0.0 and wilson_interval(0, 25)[1] == pytest.approx(0.1332, abs=1e-3)
    assert wilson_interval(25, 25)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one prompt"):
        wilson_interval(0, 0)
