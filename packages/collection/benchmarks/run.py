"""The collection benchmark: `python packages/collection/benchmarks/run.py --sizes 100000,1000000`.

Build throughput and peak memory on generated collections, redaction speed and per-type accuracy side by
side with Presidio's analyzer and the `anonymization` package. Needs `benchmarks/requirements.txt`
(`make bench-collection` installs it). Writes bench.json, bench.md and bench.png into --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness is not an installed package

from sharelm_bench.harness import STEPS, run_bench  # noqa: E402, I001
from sharelm_bench.report import summary_lines  # noqa: E402


def sizes(text: str) -> list[int]:
    try:
        values = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("--sizes needs at least one positive size")
    return values


def steps(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(STEPS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"--only takes some of {','.join(STEPS)}, got {text!r}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=sizes, default=[100_000, 1_000_000], help="collection sizes")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="where the results go")
    parser.add_argument("--stage-size", type=int, default=None, help="size of the per-stage runs")
    parser.add_argument("--pii-per-type", type=int, default=200, help="labelled examples per kind")
    parser.add_argument("--only", type=steps, default=list(STEPS), help=f"some of {','.join(STEPS)}")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated JSONL files")
    parser.add_argument("--data-dir", type=Path, default=None, help="scratch dir for generated data")
    parser.add_argument(
        "--merge", action="store_true", help="keep --out's earlier figures for the steps not run now"
    )
    args = parser.parse_args(argv)
    results = run_bench(
        args.sizes, args.out, stage_size=args.stage_size, pii_per_type=args.pii_per_type,
        steps=args.only, keep_data=args.keep_data, data_dir=args.data_dir, merge=args.merge,
        log=lambda m: print(m, file=sys.stderr),
    )  # fmt: skip
    print("\n".join(summary_lines(results)))
    print(f"-> {args.out / 'bench.json'}, {args.out / 'bench.md'}, {args.out / 'bench.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
