"""Collector benchmark, side by side: `python services/collector/benchmarks/run.py` (`make bench-collector`).

On one throwaway PostgreSQL 15 (fsync on), the reference backend's design (reference_backend/: Flask, gunicorn
sync workers, one shared SQLAlchemy session, one INSERT + COMMIT per request, the `anonymization` chain) and
sharelm-collector, each in its own database with the same number of workers, get the same wrk request
stream (unique ~1 KB plugin uploads to POST /api/endpoint) one after the other at each concurrency; then
ours alone on SQLite. Servers and PostgreSQL are pinned to one CPU set, wrk (and py-spy) to another. After
each level every acknowledged (2xx) upload is looked up in the server's database. Writes results.md,
results.json, throughput.png and py-spy profiles at --profile-clients into --out.

Needs wrk (`apt-get install -y wrk`), PostgreSQL's server binaries, and `benchmarks/requirements.txt`
next to an installed sharelm-collector.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness is not an installed package

from collector_bench.run import main  # noqa: E402


def csv_of(kind):
    def parse(text: str) -> list:
        try:
            values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: comma-separated {kind.__name__} values") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r}: no values")
        return values

    return parse


def cpu_set(text: str) -> set[int]:
    """taskset's list syntax: 0 / 0,2 / 0-3."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            cpus |= set(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a CPU list such as 0 or 0,1 or 0-3") from None
    return cpus


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=csv_of(int), default=[1, 16, 64],
                   help="concurrency levels (wrk connections)")
    p.add_argument("--seconds", type=int, default=12, help="measured seconds per level and server")
    p.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each measured run")
    p.add_argument("--db-warmup", type=int, default=5,
                   help="seconds of load on each server before the first level (a new cluster is slow)")
    p.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    p.add_argument("--ours-workers", type=int, default=None,
                   help="worker processes of ours only (default: --workers); the reference keeps --workers")
    p.add_argument("--server-cpus", type=cpu_set, default=None,
                   help="CPUs of both servers and PostgreSQL (default: the first half: core 0 on 2 cores)")
    p.add_argument("--load-cpus", type=cpu_set, default=None,
                   help="CPUs of wrk and py-spy (default: the second half: core 1 on 2 cores)")
    p.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip ours on SQLite")
    p.add_argument("--profile-clients", type=int, default=16, help="concurrency of the py-spy profiles")
    p.add_argument("--no-profile", dest="profile", action="store_false", help="skip the py-spy profiles")
    p.add_argument("--out", type=Path, default=Path("services/collector/benchmarks"))
    a = p.parse_args(argv)
    if (a.seconds < 1 or a.workers < 1 or (a.ours_workers is not None and a.ours_workers < 1)
            or a.warmup < 0 or a.db_warmup < 0 or min(a.clients) < 1):
        p.error("--seconds, --workers and --clients must be >= 1, warm-ups >= 0")
    return a


if __name__ == "__main__":
    a = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    result = main(clients=a.clients, seconds=a.seconds, warmup=a.warmup, db_warmup=a.db_warmup,
                  workers=a.workers, ours_workers=a.ours_workers or a.workers, out=a.out, sqlite=a.sqlite,
                  profile_clients=a.profile_clients if a.profile else None, server_cpus=a.server_cpus,
                  load_cpus=a.load_cpus)
    lost = [r for r in result["results"] if r["stored_missing"] or r["stored_duplicated"]]
    if lost:  # acknowledging and then losing (or doubling) uploads fails the benchmark, whatever the speed
        sys.exit("acknowledged uploads missing / duplicated: " + ", ".join(
            f"{r['server']} {r['backend']} {r['clients']} clients: {r['stored_missing']} / "
            f"{r['stored_duplicated']}" for r in lost))
