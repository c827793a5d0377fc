"""benchmarks/quality/seeds.py: the goal ratios of every seed's results.json in one table and one plot."""

import json
import subprocess
import sys
from pathlib import Path

SEEDS = Path(__file__).parents[2] / "benchmarks" / "quality" / "seeds.py"


def _result(seed: int, own: float) -> dict:
    gains = []
    for length in (4096, 8192):
        for method, against, ratio in (
            ("sharedllm", "truncated", own),
            ("sharedllm-other", "truncated", 1.004),
            ("sharedllm", "sharedllm-other", own / 1.004),
            ("sharedllm-none", "truncated", 1.0),
        ):
            gains.append({
                "method": method, "against": against, "length": length, "ppl_ratio": ratio,
                "ratio_ci95": [ratio - 0.01, ratio + 0.01], "docs_won": 30, "docs": 40, "clusters": 12,
            })  # fmt: skip
    return {"config": {"seed": seed}, "gains": gains}


def test_seeds_table_and_plot_hold_each_seeds_ratios(tmp_path):
    for seed, own in ((0, 0.961), (1, 0.972)):
        (tmp_path / f"seed{seed}").mkdir()
        (tmp_path / f"seed{seed}" / "results.json").write_text(json.dumps(_result(seed, own)))
    done = subprocess.run([sys.executable, SEEDS, tmp_path], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "seeds.md").read_text()
    assert "| 4K | 8K |" in table
    head = "| SharedLLM, own context vs base, truncated to its window |"
    own = [line for line in table.splitlines() if line.startswith(head)]
    assert [line.split(" | ")[2] for line in own] == ["0", "1"]
    assert "0.961 (0.951–0.971)" in own[0] and "0.972 (0.962–0.982)" in own[1]
    assert (tmp_path / "seeds.png").stat().st_size > 10_000


def test_seeds_without_results_is_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, SEEDS, tmp_path], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no seed*/results.json under" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_results_file_that_is_not_the_benchs_is_a_clear_error(tmp_path):
    (tmp_path / "seed0").mkdir()
    (tmp_path / "seed0" / "results.json").write_text('{"rows": []}')
    done = subprocess.run([sys.executable, SEEDS, tmp_path], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "seed0/results.json is not a quality bench result" in done.stderr
    assert "Traceback" not in done.stderr
