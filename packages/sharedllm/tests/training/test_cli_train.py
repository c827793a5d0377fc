import json

import torch
from typer.testing import CliRunner

from sharedllm.cli import app

runner = CliRunner()


def _invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_tokenizer_base_and_lm_commands_chain(code_root, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("decoder", "encoder", "scanner"):
        (docs / f"{name}.txt").write_text((code_root / "json" / f"{name}.py").read_text() * 3)
    tok_dir, base_dir, lm_dir = tmp_path / "tok", tmp_path / "base", tmp_path / "lm"
    settings = tmp_path / "lm.toml"  # one settings file for both SharedLLM runs
    settings.write_text(
        f'data = "{docs}"\nchunks = 2\nchunk_size = 32\nupper_len = 64\ninjection_layers = 1\n'
        "kv_per_node = 4\nsteps = 2\nbatch_size = 2\n"
    )

    res, out = _invoke("train", "tokenizer", "--data", docs, "--vocab-size", 400, "--out", tok_dir)
    assert res.exit_code == 0, out
    res, out = _invoke(
        "train",
        "base",
        "--tokenizer",
        tok_dir,
        "--set",
        f"data={docs}",
        "--out",
        base_dir,
        "--set",
        "base.hidden_size=32",
        "--set",
        "base.num_layers=2",
        "--set",
        "base.num_heads=2",
        "--set",
        "base.intermediate_size=64",
        "--set",
        "base.window=64",
        "--set",
        "steps=2",
        "--set",
        "batch_size=2",
        "--set",
        "copy_mix=0.5",  # as many copy-curriculum blocks as document blocks
    )
    assert res.exit_code == 0, out
    n_docs = int(out.split(" document blocks + ")[0].split()[-1])
    assert f"{n_docs} document blocks + {n_docs} copy-curriculum blocks (50%)" in out
    assert (base_dir / "final" / "tokenizer.json").exists() and (base_dir / "loss_curve.png").exists()
    # A curriculum's next stage trains that base further (same weights to start from, not a fresh model).
    stage = ["train", "base", "--tokenizer", tok_dir, "--set", f"data={docs}", "--set", "steps=1"]
    stage += ["--set", "batch_size=2", "--set", f"init={base_dir / 'final'}", "--set", "lr=1e-9"]
    res, out = _invoke(*stage, "--set", "base.window=64", "--out", tmp_path / "stage2")
    assert res.exit_code == 0, out
    from safetensors.torch import load_file

    before = load_file(base_dir / "final" / "model.safetensors")
    after = load_file(tmp_path / "stage2" / "final" / "model.safetensors")
    name = "model.embed_tokens.weight"
    assert torch.allclose(before[name], after[name], atol=1e-6)  # lr ~0: the stage began from `init`
    res, out = _invoke(*stage, "--out", tmp_path / "stage3")  # window 512 (the default) != init's 64
    assert res.exit_code == 2 and "has window 64, but base.window is 512" in out
    res, out = _invoke(*stage, "--set", f"init={tmp_path / 'nowhere'}", "--out", tmp_path / "stage4")
    assert res.exit_code == 2 and "is not a model checkpoint" in out
    res, out = _invoke(
        "train",
        "lm",
        base_dir / "final",
        "--out",
        lm_dir,
        "--config",
        settings,
        "--set",
        "preset=cross_attention",
        "--set",
        "selection_policy=query",
        "--set",
        "retrieval_mix=0.5",  # as many synthetic retrieval examples as language-modelling ones
        "--set",
        "retrieval_templates=python",
    )
    assert res.exit_code == 0, out
    n_lm = int(out.split(" language-modelling + ")[0].split()[-1])
    assert f"{n_lm} language-modelling + {n_lm} retrieval examples (50%)" in out
    assert "trainable parameters (cross_attention), query policy, split noise 0.2" in out
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(lm_dir / "final").model_type == "sharedllm"

    # Continue training the SharedLLM checkpoint itself (no rebuild from a base).
    res, out = _invoke(
        "train",
        "lm",
        lm_dir / "final",
        "--out",
        tmp_path / "lm2",
        "--config",
        settings,
        "--set",
        "steps=1",
        "--set",
        "split_noise_sigma=0.1",
    )
    assert res.exit_code == 0, out
    assert "right policy, split noise 0.1" in out  # the checkpoint's policy is set from the settings
    recorded = json.loads((tmp_path / "lm2" / "settings.json").read_text())
    assert recorded["split_noise_sigma"] == 0.1 and recorded["chunk_size"] == 32


def test_bad_input_gets_a_message_not_a_traceback(code_root, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text((code_root / "json" / "decoder.py").read_text())
    res, out = _invoke("train", "tokenizer", "--data", docs, "--vocab-size", 300, "--out", tmp_path / "tok")
    assert res.exit_code == 0, out
    res, out = _invoke(
        "train",
        "base",
        "--tokenizer",
        tmp_path / "tok",
        "--set",
        f"data={docs}",
        "--out",
        tmp_path / "b",
        "--set",
        "steps=0",
    )
    assert res.exit_code == 2 and "max_steps must be at least 1" in out
    res, out = _invoke(
        "train",
        "base",
        "--tokenizer",
        tmp_path / "tok",
        "--set",
        f"data={docs}",
        "--out",
        tmp_path / "b",
        "--set",
        "base.window=100000",
        "--set",
        "steps=1",
    )
    assert res.exit_code == 2 and "do not fill one block" in out
    res, out = _invoke(
        "train", "lm", tmp_path / "tok", "--set", f"data={tmp_path / 'missing.txt'}", "--out", tmp_path / "c"
    )
    assert res.exit_code == 2 and "cannot read --data" in out
    res, out = _invoke("train", "lm", tmp_path / "tok", "--set", "chunk_size=big", "--out", tmp_path / "c")
    assert res.exit_code == 2 and "chunk_size needs a value like 1024, got 'big'" in out
    res, out = _invoke("train", "lm", tmp_path / "tok", "--set", "chunks_size=8", "--out", tmp_path / "c")
    assert res.exit_code == 2 and "unknown setting 'chunks_size'" in out
