"""Settings from a file plus --set overrides (the training commands and the benchmarks)."""

from pathlib import Path

import pytest

from sharedllm.evaluation.quality import QualityConfig
from sharedllm.settings import apply_overrides, load_settings_file
from sharedllm.training.settings import train_settings


def test_overrides_convert_to_the_declared_types():
    s = apply_overrides(
        train_settings("lm"),
        ["steps=7", "lr=3e-4", "bf16=true", "betas=0.9,0.95", "limit=12", "inject_at=2,3", "base.window=128"],
    )
    assert (s.steps, s.lr, s.bf16, s.betas, s.limit, s.inject_at) == (7, 3e-4, True, (0.9, 0.95), 12, [2, 3])
    assert s.base.window == 128 and s.base.hidden_size == 256
    assert apply_overrides(s, ["limit=none"]).limit is None


def test_command_defaults_then_file_then_overrides(tmp_path):
    path = tmp_path / "chat.toml"
    path.write_text('lr = 5e-5\nselection_policy = "query"\n[base]\nwindow = 256\n')
    s = train_settings("chat", path, ["lr=1e-5"])
    assert s.split_noise_sigma == 0.1 and s.chunk_size == 512  # the chat command's defaults
    assert s.selection_policy == "query" and s.base.window == 256 and s.lr == 1e-5
    assert train_settings("lm").split_noise_sigma == 0.2 and train_settings("lm").chunk_size == 1024


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown setting 'stepz'"):
        train_settings("lm", overrides=["stepz=3"])
    with pytest.raises(ValueError, match="bf16 needs a value like False"):
        train_settings("lm", overrides=["bf16=maybe"])
    with pytest.raises(ValueError, match="key=value"):
        train_settings("lm", overrides=["steps"])
    with pytest.raises(ValueError, match="does not exist"):
        train_settings("lm", tmp_path / "missing.toml")


def test_the_quality_bench_uses_the_same_overrides(tmp_path):
    cfg = apply_overrides(
        QualityConfig(out=tmp_path), ["corpus_root=/x", "lengths=1024,2048", "base.window=64"]
    )
    assert cfg.corpus_root == Path("/x") and cfg.lengths == (1024, 2048) and cfg.base.window == 64
    load_settings_file(cfg, _json(tmp_path, '{"shared_steps": 5, "base": {"num_layers": 2}}'))
    assert cfg.shared_steps == 5 and cfg.base.num_layers == 2


def _json(tmp_path, text):
    path = tmp_path / "q.json"
    path.write_text(text)
    return path
