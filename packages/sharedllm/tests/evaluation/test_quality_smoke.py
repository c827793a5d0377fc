import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sharedllm.evaluation.quality import (
    METHODS,
    QualityConfig,
    check_cached_settings,
    run_quality,
    window_use_note,
)


def test_quality_pipeline_runs_every_stage_and_caches_them(code_root, tmp_path):
    """The bench end to end at toy sizes: tokenizer, base from scratch, SharedLLM, perplexity table."""
    cfg = QualityConfig.smoke(tmp_path / "q", corpus_root=code_root)
    logs = []
    result = run_quality(cfg, log=logs.append)
    rows = {(r["method"], r["length"]) for r in result["rows"]}
    assert rows == {(m, n) for m in METHODS for n in cfg.lengths}
    assert all(r["tokens"] == r["docs"] * cfg.score_len for r in result["rows"])
    use = result["base_window_use"]  # the base's perplexity with 8 tokens ahead vs its whole window
    assert set(use) == {"8", str(cfg.base.window - cfg.score_len)} and all(v > 1 for v in use.values())
    assert "use of its own window" in result["table"]
    assert all(doc.split("/")[0] in ("email", "dbm") for doc in result["eval_documents"])  # held-out packages
    for name in (
        "table.md",
        "ppl.png",
        "base/loss_curve.png",
        "sharedllm/loss_curve.png",
        "tokenizer/tokenizer.json",
    ):
        assert (cfg.out / name).stat().st_size > 0
    assert json.loads((cfg.out / "results.json").read_text())["table"] == result["table"]
    # The default preset trains the cross-attention only: with no context SharedLLM is the base, to the float.
    ppl = {(r["method"], r["length"]): r["ppl"] for r in result["rows"]}
    for n in cfg.lengths:
        assert ppl["sharedllm-none", n] == pytest.approx(ppl["truncated", n], rel=1e-5)

    logs.clear()
    again = run_quality(cfg, log=logs.append)  # every training stage is cached now
    assert any("[base] cached" in line for line in logs) and any(
        "[sharedllm] cached" in line for line in logs
    )
    assert again["rows"] == result["rows"]
    _gpu_sweep_scripts_run_through_the_bench_stages(cfg.out, tmp_path)


def _gpu_sweep_scripts_run_through_the_bench_stages(data: Path, tmp_path: Path) -> None:
    """The GPU sweep's two scripts, on CPU at toy sizes, on the bench's own tokenized corpus."""
    here = Path(__file__).parents[2] / "benchmarks" / "quality" / "gpu_sweep"
    env = {**os.environ, "DATA": str(data), "OMP_NUM_THREADS": "1"}
    sweep, saved = tmp_path / "sweep", tmp_path / "sweep-base"
    done = subprocess.run(
        [sys.executable, here / "base.py", "b", sweep, "--smoke", "--every", "1", "--save", saved]
        + ["--set", "base_steps=2", "--repeat-share", "0.5"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads((sweep / "b.json").read_text())["log"]
    assert [entry["step"] for entry in log] == [1, 2] and (saved / "config.json").exists()
    done = subprocess.run(
        [sys.executable, here / "sharedllm_stage.py", "s", saved, "--smoke", "--set", "shared_steps=2"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert set(result["ppl"]) == {f"{m}@{n}" for m in ("truncated", "sharedllm-none", "sharedllm-other",
                                                     "sharedllm") for n in (128, 256)}  # fmt: skip


def test_window_use_note_warns_when_the_base_ignores_its_window():
    fine = window_use_note({8: 40.7, 256: 38.17})
    assert "6.2% better" in fine and "WARNING" not in fine
    # The old bench's 1,000-step base (2.9% better with its window) gave SharedLLM no own-context gain.
    assert "WARNING" in window_use_note({8: 117.4, 256: 114.0})


def test_cached_stages_are_not_reused_under_other_training_settings(tmp_path):
    out = tmp_path / "q"
    out.mkdir()
    cfg = QualityConfig.smoke(out)
    check_cached_settings(cfg, out)
    cfg.lengths = (64, 128)  # evaluation settings may change
    check_cached_settings(cfg, out)
    cfg.preset = "paper"  # the SharedLLM stage is not in `out`: a new one may be trained on the cached base
    check_cached_settings(cfg, out)
    (out / "sharedllm").mkdir()
    cfg.preset = "cross_attention"  # ... but a trained one is not reused under another preset
    with pytest.raises(ValueError, match="preset.*--fresh"):
        check_cached_settings(cfg, out)
    cfg.preset = "paper"
    cfg.base_steps += 1
    with pytest.raises(ValueError, match="base_steps.*--fresh"):
        check_cached_settings(cfg, out)
    (out / "sharedllm").rmdir()
    with pytest.raises(ValueError, match="base_steps.*--fresh"):  # the base is never retrained silently
        check_cached_settings(cfg, out)
    (out / "training_settings.json").unlink()
    (out / "tokens_heldout.npz").write_bytes(b"")  # stages of an older bench, settings unknown
    with pytest.raises(ValueError, match="earlier version"):
        check_cached_settings(cfg, out)
