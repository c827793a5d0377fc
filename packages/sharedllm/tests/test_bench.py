import json

from typer.testing import CliRunner

from sharedllm.bench.efficiency import split_length
from sharedllm.cli import app
from sharedllm.tiny import tiny_sharedllm


def test_bench_cli_runs_both_models_and_writes_table_json_and_plot(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--config",
            "tiny",
            "--lengths",
            "384,512",
            "--decode-tokens",
            "2",
            "--threads",
            "1",
            "--repeats",
            "2",
        ]
        + ["--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["model"], r["length"]): r for r in report["rows"]}
    assert set(rows) == {("sharedllm", 384), ("base", 384), ("sharedllm", 512), ("base", 512)}
    assert all(
        r["status"] == "ok" and r["prefill_seconds"] > 0 and r["decode_tokens_per_s"] > 0
        for r in rows.values()
    )
    assert all(r["prefill_cpu_seconds"] > 0 for r in rows.values()) and report["meta"]["repeats"] == 2
    # 512 tokens = 2 chunks of 128 for the lower model + 256 for the upper (the shape's window)
    assert rows[("sharedllm", 512)]["chunks"] == 2 and rows[("sharedllm", 512)]["upper_tokens"] == 256
    assert [r["length"] for r in report["summary"]["sharedllm_vs_base"]] == [384, 512]
    assert (tmp_path / "efficiency.png").stat().st_size > 10_000
    assert "| sharedllm | 512 |" in (tmp_path / "results.md").read_text()


def test_bench_cli_rejects_bad_options(tmp_path):
    runner = CliRunner()
    for args, field in (
        (["--config", "70b"], "--config"),
        (["--lengths", "4k"], "--lengths"),
        (["--dtype", "int8"], "--dtype"),
    ):
        result = runner.invoke(app, ["bench", *args, "--out", str(tmp_path)])
        assert result.exit_code == 2 and field in result.output, result.output


def test_split_length_keeps_the_window_and_whole_chunks():
    config = tiny_sharedllm().config  # chunk 64, window 256
    assert split_length(200, config) == (0, 200)
    assert split_length(256 + 64 * 3 + 10, config) == (3, 266)


def test_gpu_7b_shape_builds_a_llama2_7b_sized_sharedllm():
    import torch

    from sharedllm.bench.efficiency import build_model
    from sharedllm.bench.shapes import SHAPES

    model = build_model(SHAPES["7b-shape"], torch.device("meta"), torch.bfloat16, "sdpa")
    upper = sum(p.numel() for p in model.upper.parameters())
    cross = sum(p.numel() for layer in model.upper_decoder.layers[:4] for p in layer.cross_attn.parameters())
    assert upper - cross == 6_738_415_616  # Llama-2-7B's parameter count
    assert model.config.kv_per_chunk == 128 and model.config.chunk_size == 1024
    assert len(model.lower.layers) == 4 and model.dtype == torch.bfloat16
    assert max(SHAPES["7b-shape"].lengths) >= 262_144
