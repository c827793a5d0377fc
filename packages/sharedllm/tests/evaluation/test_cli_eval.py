import json

import pytest
from typer.testing import CliRunner

from sharedllm.cli import app
from sharedllm.tiny import tiny_base_model, tiny_sharedllm

runner = CliRunner()


def _invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.fixture()
def checkpoints(tokenizer, tmp_path):
    """A tiny base model and a SharedLLM built from it, saved with the tokenizer like training leaves them."""
    base = tiny_base_model(seed=0, vocab_size=len(tokenizer))
    shared = tiny_sharedllm(seed=0, vocab_size=len(tokenizer), chunk_size=32, upper_window=64)
    base_dir, shared_dir = tmp_path / "base", tmp_path / "shared"
    for model, path in ((base, base_dir), (shared, shared_dir)):
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return base_dir, shared_dir


def test_eval_ppl_writes_table_json_and_plot(checkpoints, code_root, tmp_path):
    base_dir, shared_dir = checkpoints
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("decoder", "encoder", "scanner"):
        (docs / f"{name}.txt").write_text((code_root / "json" / f"{name}.py").read_text())
    out = tmp_path / "ppl"
    res, text = _invoke(
        "eval",
        "ppl",
        shared_dir,
        "--base",
        base_dir,
        "--data",
        docs,
        "--lengths",
        "128,256",
        "--score-len",
        16,
        "--window",
        64,
        "--num-docs",
        2,
        "--full-max-len",
        128,
        "--out",
        out,
    )
    assert res.exit_code == 0, text
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["method"] for r in rows} == {
        "truncated",
        "sinks",
        "full",
        "full-linear",
        "full-dynamic",
        "full-yarn",
        "sharedllm",
        "sharedllm-other",
        "sharedllm-none",
    }
    assert (out / "ppl.png").stat().st_size > 0 and "| SharedLLM, own context |" in text


def test_eval_passkey_writes_a_heat_map(checkpoints, tmp_path):
    _, shared_dir = checkpoints
    out = tmp_path / "pk"
    res, text = _invoke(
        "eval",
        "passkey",
        shared_dir,
        "--lengths",
        "128,256",
        "--depths",
        "0,1",
        "--trials",
        1,
        "--template",
        "python",
        "--selection-policy",
        "query",
        "--out",
        out,
    )
    assert res.exit_code == 0, text
    grid = json.loads((out / "passkey.json").read_text())["accuracy"]
    assert len(grid) == 2 and len(grid[0]) == 2
    assert (out / "passkey.png").stat().st_size > 0


def test_eval_bad_input_is_named(checkpoints, tmp_path):
    base_dir, shared_dir = checkpoints
    res, text = _invoke(
        "eval", "ppl", "--base", base_dir, "--data", tmp_path, "--pattern", "*.txt", "--lengths", "abc"
    )
    assert res.exit_code == 2 and "--lengths must be comma-separated" in text
    res, text = _invoke("eval", "passkey", base_dir, "--method", "sharedllm")
    assert res.exit_code == 2 and "not a SharedLLM checkpoint" in text
    res, text = _invoke("eval", "passkey", shared_dir, "--template", "poem")
    assert res.exit_code == 2 and "--template must be one of" in text
    res, text = _invoke("eval", "passkey", shared_dir, "--selection-policy", "left")
    assert res.exit_code == 2 and "selection_policy must be one of ('right', 'query', 'query-max')" in text


def test_eval_retrieval_writes_heat_maps_and_a_table(checkpoints, tmp_path):
    base_dir, shared_dir = checkpoints
    out = tmp_path / "retrieval"
    res, text = _invoke(
        "eval", "retrieval", shared_dir, "--base", base_dir, "--lengths", "256,384", "--depths", "0,1",
        "--trials", 1, "--full-max-len", 256, "--out", out,
    )  # fmt: skip
    assert res.exit_code == 0, text
    data = json.loads((out / "retrieval.json").read_text())
    assert set(data["accuracy"]) == {"text", "python"}
    assert set(data["accuracy"]["python"]) == {"sharedllm-query", "sharedllm-right", "truncated", "full-yarn"}
    assert (out / "retrieval.png").stat().st_size > 0 and "SharedLLM, query-aware policy" in text
    res, text = _invoke("eval", "retrieval", shared_dir, "--methods", "truncated")
    assert res.exit_code == 2 and "need a base model" in text
