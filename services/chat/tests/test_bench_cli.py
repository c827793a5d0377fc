"""The benchmark's command line (the harness lives outside the package, in services/chat/benchmarks)."""

import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_bench_rejects_unknown_variant(tmp_path):
    done = subprocess.run([sys.executable, str(RUN), "--variants", "cache,warp", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "warp" in done.stderr


def test_bench_runs_two_turns(tmp_path):
    done = subprocess.run(
        [sys.executable, str(RUN), "--out", str(tmp_path), "--turns", "2", "--user-chars", "700",
         "--hidden-size", "32", "--layers", "2", "--num-injection-layers", "1", "--chunk-size", "256",
         "--upper-window", "512", "--base-max-tokens", "2000", "--threads", "1"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "bench_chat.md").is_file() and (tmp_path / "bench_chat.json").is_file()
