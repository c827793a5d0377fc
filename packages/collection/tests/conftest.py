import sys
from pathlib import Path

# The benchmark harness ships beside the package, not in it (packages/collection/benchmarks/sharelm_bench).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
