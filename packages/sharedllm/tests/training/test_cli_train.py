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

    res, out = _invoke("train", "tokenizer", "--data", docs, "--vocab-size", 400, "--out", tok_dir)
    assert res.exit_code == 0, out
    res, out = _invoke(
        "train",
        "base",
        "--tokenizer",
        tok_dir,
        "--data",
        docs,
        "--out",
        base_dir,
        "--hidden-size",
        32,
        "--layers",
        2,
        "--heads",
        2,
        "--intermediate-size",
        64,
        "--window",
        64,
        "--steps",
        2,
        "--batch-size",
        2,
    )
    assert res.exit_code == 0, out
    assert (base_dir / "final" / "tokenizer.json").exists() and (base_dir / "loss_curve.png").exists()
    res, out = _invoke(
        "train",
        "lm",
        base_dir / "final",
        "--data",
        docs,
        "--out",
        lm_dir,
        "--chunks",
        2,
        "--chunk-size",
        32,
        "--upper-len",
        64,
        "--injection-layers",
        1,
        "--kv-per-node",
        4,
        "--steps",
        2,
        "--batch-size",
        2,
        "--preset",
        "cross_attention",
    )
    assert res.exit_code == 0, out
    assert "trainable parameters (cross_attention)" in out
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(lm_dir / "final").model_type == "sharedllm"

    # Continue training the SharedLLM checkpoint itself (no rebuild from a base).
    res, out = _invoke(
        "train",
        "lm",
        lm_dir / "final",
        "--data",
        docs,
        "--out",
        tmp_path / "lm2",
        "--chunks",
        2,
        "--chunk-size",
        32,
        "--upper-len",
        64,
        "--steps",
        1,
        "--batch-size",
        2,
    )
    assert res.exit_code == 0, out


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
        "--data",
        docs,
        "--out",
        tmp_path / "b",
        "--steps",
        0,
    )
    assert res.exit_code == 2 and "max_steps must be at least 1" in out
    res, out = _invoke(
        "train",
        "base",
        "--tokenizer",
        tmp_path / "tok",
        "--data",
        docs,
        "--out",
        tmp_path / "b",
        "--window",
        100000,
        "--steps",
        1,
    )
    assert res.exit_code == 2 and "do not fill one block" in out
    res, out = _invoke(
        "train", "lm", tmp_path / "tok", "--data", tmp_path / "missing.txt", "--out", tmp_path / "c"
    )
    assert res.exit_code == 2 and "cannot read --data" in out
