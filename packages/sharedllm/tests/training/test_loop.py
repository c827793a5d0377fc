import json
import shutil

import numpy as np
import pytest
import torch
from transformers import LlamaForCausalLM

from sharedllm import SharedLLMForCausalLM, apply_trainable_preset
from sharedllm.data.chunking import collate_chunked
from sharedllm.data.datasets import lm_examples
from sharedllm.tiny import tiny_sharedllm
from sharedllm.training.base import BaseShape, PackedBlocks, build_base_model, collate_blocks
from sharedllm.training.loop import TrainConfig, latest_checkpoint, train


def _patterned_docs(n_docs=6, length=700, vocab=64, seed=0):
    """Documents that repeat their own random motif: context predicts the text."""
    rng = np.random.default_rng(seed)
    return [np.tile(rng.integers(3, vocab, size=17), length // 17 + 1)[:length] for _ in range(n_docs)]


def _sharedllm_setup(seed=0):
    model = tiny_sharedllm(
        seed=seed, vocab_size=64, chunk_size=32, kv_per_node=4, num_injection_layers=1, upper_window=48
    ).train()
    apply_trainable_preset(model, "paper")
    return model, lm_examples(_patterned_docs(), n_chunks=2, chunk_size=32, upper_len=48)


def _collate(batch):
    return collate_chunked(batch, pad_token_id=0)


def test_base_pretraining_learns_and_saves_a_loadable_model(tmp_path):
    model = build_base_model(64, BaseShape(32, 2, 2, 64, 64), seed=0)
    data = PackedBlocks(_patterned_docs(n_docs=8), block_len=64, eos_token_id=2)
    cfg = TrainConfig(output_dir=tmp_path, max_steps=30, batch_size=4, lr=1e-2, warmup_ratio=0.1)
    result = train(model, data, collate_blocks, cfg)
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert result.loss_curve.stat().st_size > 0
    reloaded = LlamaForCausalLM.from_pretrained(result.final_dir)
    x = data[0][None]
    torch.testing.assert_close(reloaded(x).logits, model.eval()(x).logits)
    assert json.loads((tmp_path / "history.json").read_text())[-1]["step"] == 30


def test_sharedllm_training_updates_the_preset_and_leaves_the_lower_model_frozen(tmp_path):
    model, data = _sharedllm_setup()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(output_dir=tmp_path, max_steps=3, batch_size=2, lr=1e-2, gradient_checkpointing=True)
    train(model, data, _collate, cfg)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and changed <= trainable
    assert any("cross_attn" in k for k in changed)
    reloaded = SharedLLMForCausalLM.from_pretrained(tmp_path / "final")
    for k, v in reloaded.state_dict().items():
        torch.testing.assert_close(v, model.state_dict()[k])


def test_resume_from_a_checkpoint_gives_the_same_model_as_an_uninterrupted_run(tmp_path):
    straight, data = _sharedllm_setup()
    cfg = dict(max_steps=4, batch_size=2, lr=1e-2, save_every=2, seed=3)
    train(straight, data, _collate, TrainConfig(output_dir=tmp_path / "a", **cfg))

    interrupted, _ = _sharedllm_setup()
    out = tmp_path / "b"
    train(interrupted, data, _collate, TrainConfig(output_dir=out, **cfg))
    # Forget everything after step 2, as if the run had been killed there, and start again from scratch.
    shutil.rmtree(out / "checkpoints" / "step-4")
    shutil.rmtree(out / "final")
    assert latest_checkpoint(out).name == "step-2"
    resumed, _ = _sharedllm_setup(seed=99)  # different weights: the checkpoint must overwrite them
    result = train(resumed, data, _collate, TrainConfig(output_dir=out, **cfg))
    assert result.steps == 4 and len(result.history) == 4
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v)


def test_gradient_accumulation_matches_the_larger_batch(tmp_path):
    big, data = _sharedllm_setup()
    small, _ = _sharedllm_setup()
    train(big, data, _collate, TrainConfig(output_dir=tmp_path / "big", max_steps=1, batch_size=4, lr=1e-2))
    train(
        small,
        data,
        _collate,
        TrainConfig(output_dir=tmp_path / "acc", max_steps=1, batch_size=2, grad_accum=2, lr=1e-2),
    )
    for k, v in big.state_dict().items():
        torch.testing.assert_close(small.state_dict()[k], v, atol=1e-5, rtol=1e-4)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="max_steps"):
        TrainConfig(output_dir="x", max_steps=0)
    with pytest.raises(ValueError, match="warmup_ratio"):
        TrainConfig(output_dir="x", warmup_ratio=1.5)


def test_bf16_mixed_precision_trains(tmp_path):
    model, data = _sharedllm_setup()
    before = model.upper_decoder.layers[0].cross_attn.o_proj.weight.clone()
    result = train(
        model, data, _collate, TrainConfig(output_dir=tmp_path, max_steps=2, batch_size=2, lr=1e-2, bf16=True)
    )
    assert all(np.isfinite(h["loss"]) for h in result.history)
    assert not torch.equal(model.upper_decoder.layers[0].cross_attn.o_proj.weight, before)
    assert (
        model.upper_decoder.layers[0].cross_attn.o_proj.weight.dtype == torch.float32
    )  # fp32 master weights
