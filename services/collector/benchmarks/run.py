"""The collector benchmark: `python services/collector/benchmarks/run.py` (what `make bench-collector` runs).

The server on SQLite and on a throwaway PostgreSQL, a separate load process at several concurrencies, CPU
seconds of server, database and client, a table (results.md), JSON, a plot and py-spy profiles in --out.
Needs `benchmarks/requirements.txt` next to an installed `sharelm-collector`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness is not an installed package

from collector_bench.run import main  # noqa: E402

BACKENDS = ("sqlite", "postgres")
ROUTES = ("v1", "plugin")


def csv_of(kind, allowed: tuple[str, ...] | None = None):
    def parse(text: str) -> list:
        try:
            values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: comma-separated {kind.__name__} values") from None
        bad = [v for v in values if allowed and v not in allowed]
        if not values or bad:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed or ())}")
        return values

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", type=csv_of(str, BACKENDS), default=list(BACKENDS))
    p.add_argument("--clients", type=csv_of(int), default=[1, 16, 64], help="concurrency levels")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    p.add_argument("--route", choices=ROUTES, default="v1",
                   help="v1 (POST /v1/conversations, token) or plugin (POST /api/endpoint)")
    p.add_argument("--out", type=Path, default=Path("services/collector/benchmarks"))
    p.add_argument("--no-profile", dest="profile", action="store_false", help="skip the py-spy profile")
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse_args()
    if a.seconds < 1 or a.workers < 1:
        sys.exit("--seconds must be >= 1 and --workers >= 1")
    main(backends=a.backends, clients=a.clients, seconds=a.seconds, warmup=a.warmup, workers=a.workers,
         route=a.route, out=a.out, with_profile=a.profile)
