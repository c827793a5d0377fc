import json
import sys
from pathlib import Path

import torch
from typer.testing import CliRunner

from sharedllm.tiny import tiny_sharedllm

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))  # the harness is not installed

from efficiency_bench.cli import app  # noqa: E402
from efficiency_bench.efficiency import build_model, split_length, weight_mib  # noqa: E402
from efficiency_bench.shapes import SHAPES  # noqa: E402


def test_bench_cli_runs_every_row_kind_and_writes_table_json_and_plot(tmp_path):
    result = CliRunner().invoke(
        app,
        [
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
    assert set(rows) == {(kind, n) for kind in ("sharedllm", "base", "truncated") for n in (384, 512)}
    assert all(
        r["status"] == "ok" and r["prefill_seconds"] > 0 and r["decode_tokens_per_s"] > 0
        for r in rows.values()
    )
    assert all(r["prefill_cpu_seconds"] > 0 for r in rows.values()) and report["meta"]["repeats"] == 2
    # 512 tokens = 2 chunks of 128 for the lower model + 256 for the upper (the shape's window)
    assert rows[("sharedllm", 512)]["chunks"] == 2 and rows[("sharedllm", 512)]["upper_tokens"] == 256
    # the truncated base reads exactly SharedLLM's running text; base rows need no cross-attention weights
    assert rows[("truncated", 512)]["upper_tokens"] == 256 and rows[("truncated", 512)]["chunks"] == 0
    shared, base = rows[("sharedllm", 512)], rows[("base", 512)]
    assert shared["total_mib"] == shared["peak_mib"] + shared["weights_mib"]
    model = build_model(SHAPES["tiny"], torch.device("cpu"), torch.float32, "sdpa")
    cross = sum(p.numel() for layer in model.upper_decoder.layers[:2] for p in layer.cross_attn.parameters())
    assert (shared["weights_mib"] - base["weights_mib"]) * 2**20 == cross * 4  # float32: shared lower weights
    assert weight_mib(model)["sharedllm"] == shared["weights_mib"]
    assert [r["length"] for r in report["summary"]["sharedllm_vs_base"]] == [384, 512]
    assert [r["length"] for r in report["summary"]["sharedllm_vs_truncated"]] == [384, 512]
    assert (tmp_path / "efficiency.png").stat().st_size > 10_000
    assert "| sharedllm | 512 |" in (tmp_path / "results.md").read_text()


def test_bench_cli_rejects_bad_options(tmp_path):
    runner = CliRunner()
    for args, field in (
        (["--config", "70b"], "--config"),
        (["--lengths", "4k"], "--lengths"),
        (["--dtype", "int8"], "--dtype"),
    ):
        result = runner.invoke(app, [*args, "--out", str(tmp_path)])
        assert result.exit_code == 2 and field in result.output, result.output


def test_split_length_is_the_serving_layout():
    config = tiny_sharedllm().config  # chunk 64, window 256
    assert split_length(200, config) == (0, 200)
    assert split_length(256 + 64 * 3 + 10, config) == (4, 202)  # start-anchored: the window holds the rest


def test_gpu_7b_shape_builds_a_llama2_7b_sized_sharedllm():
    model = build_model(SHAPES["7b-shape"], torch.device("meta"), torch.bfloat16, "sdpa")
    upper = sum(p.numel() for p in model.upper.parameters())
    cross = sum(p.numel() for layer in model.upper_decoder.layers[:4] for p in layer.cross_attn.parameters())
    assert upper - cross == 6_738_415_616  # Llama-2-7B's parameter count
    assert model.config.kv_per_chunk == 128 and model.config.chunk_size == 1024
    assert len(model.lower.layers) == 4 and model.dtype == torch.bfloat16
    # the lower model adds no weights: 7B + 4 cross-attention blocks (134 M) in all, not + 810 M more
    assert sum(p.numel() for p in model.parameters()) == 6_738_415_616 + cross == upper
    assert max(SHAPES["7b-shape"].lengths) >= 262_144
