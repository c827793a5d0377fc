"""The collector benchmark (`run.py` beside this package): the server on SQLite and on a throwaway
PostgreSQL, a separate load process at several concurrencies, CPU seconds of server, database and client
per run, a table, a plot and a profile."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from collector_bench import profile
from sharelm_collector.devtools.postgres import PostgresCluster
from sharelm_collector.devtools.server import CollectorServer

# No rate limits while measuring throughput; everything else (redaction, validation, metrics) stays on.
SERVER_ENV = {
    "SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_PER_CONTRIBUTOR": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_SIGNUPS_PER_IP": "0",
}


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process, its live descendants and its reaped children (PostgreSQL
    backends come and go; the postmaster's children_* times keep the ones that ended)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        t = root.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    total = t.children_user + t.children_system
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def postmaster_pid(cluster: PostgresCluster) -> int:
    return int((cluster.dir / "data" / "postmaster.pid").read_text().split()[0])


def run_load(url: str, token: str, clients: int, seconds: float, warmup: float, route: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("load.py")), "--url", url, "--token", token,
         "--clients", str(clients), "--seconds", str(seconds), "--warmup", str(warmup), "--route", route],
        check=True, capture_output=True, text=True, timeout=seconds + warmup + 120,
    )
    return json.loads(out.stdout)


def bench_backend(name: str, database_url: str, workdir: Path, *, clients: list[int], seconds: float,
                  warmup: float, workers: int, route: str, db_pid: int | None, profile_dir: Path | None,
                  progress) -> list[dict]:
    rows = []
    with CollectorServer(database_url, workdir / name, workers=workers, env=SERVER_ENV) as server:
        token = httpx.post(server.url + "/v1/contributors").json()["token"]
        for n in clients:
            cpu0 = (tree_cpu(server.proc.pid), tree_cpu(db_pid) if db_pid else 0.0)
            t0 = time.monotonic()
            result = run_load(server.url, token, n, seconds, warmup, route)
            wall = time.monotonic() - t0
            cpu1 = (tree_cpu(server.proc.pid), tree_cpu(db_pid) if db_pid else 0.0)
            result.update(backend=name, workers=workers, wall_s=wall,
                          server_cpu_s=cpu1[0] - cpu0[0], db_cpu_s=cpu1[1] - cpu0[1])
            rows.append(result)
            progress(result)
        if profile_dir is not None and profile.py_spy():
            # Profile the busiest setting while the load runs in the background.
            n = max(clients)
            t = threading.Thread(target=run_load, args=(server.url, token, n, seconds + 2, 1.0, route))
            t.start()
            time.sleep(1.5)
            profile.record(server.proc.pid, seconds, profile_dir / f"profile-{name}-{n}.txt")
            t.join()
    return rows


def cpu_ms_per_upload(r: dict) -> tuple[float, float, float]:
    """(server, database, client) CPU milliseconds per answered request, warm-up included on both sides."""
    n = max(1, r["all_requests"])
    return 1000 * r["server_cpu_s"] / n, 1000 * r["db_cpu_s"] / n, 1000 * r["client_cpu_s"] / n


def table(rows: list[dict]) -> str:
    """Measured figures, CPU cost per upload, and the throughput that cost allows on 2 otherwise idle cores
    (server + database + client sharing them), since on a shared machine the measured rate mostly says
    how much CPU the benchmark was given."""
    lines = ["| backend | clients | uploads/s | p50 ms | p99 ms | errors | cores used (server / DB / client) "
             "| CPU ms per upload (server / DB / client) | ceiling on 2 idle cores |",
             "|---|---:|---:|---:|---:|---:|---|---|---:|"]
    for r in rows:
        srv, db, cli = cpu_ms_per_upload(r)
        ceiling = 2000 / (srv + db + cli) if srv + db + cli else float("nan")
        lines.append(
            f"| {r['backend']} | {r['clients']} | {r['throughput']:.0f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['errors']} "
            f"| {r['server_cpu_s'] / r['wall_s']:.2f} / {r['db_cpu_s'] / r['wall_s']:.2f} / "
            f"{r['client_cpu_s'] / r['wall_s']:.2f} | {srv:.2f} / {db:.2f} / {cli:.2f} | ~{ceiling:.0f}/s |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for backend in sorted({r["backend"] for r in rows}):
        rs = [r for r in rows if r["backend"] == backend]
        xs = [r["clients"] for r in rs]
        ax1.plot(xs, [r["throughput"] for r in rs], marker="o", label=backend)
        ax2.plot(xs, [r["p99_ms"] for r in rs], marker="o", label=f"{backend} p99")
        ax2.plot(xs, [r["p50_ms"] for r in rs], marker="x", linestyle="--", label=f"{backend} p50")
    for ax, title in ((ax1, "uploads/s"), (ax2, "latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(*, backends: list[str], clients: list[int], seconds: float, warmup: float, workers: int, route: str,
         out: Path, with_profile: bool) -> list[dict]:
    from rich.console import Console

    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("profile-*.txt"):
        stale.unlink()
    rows: list[dict] = []

    def progress(r: dict) -> None:
        console.print(f"[bold]{r['backend']}[/] {r['clients']:>3} clients: {r['throughput']:7.0f} uploads/s, "
                      f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors']}")

    with tempfile.TemporaryDirectory(prefix="sharelm-bench-") as tmp:
        workdir = Path(tmp)
        profile_dir = out if with_profile else None
        for backend in backends:
            if backend == "sqlite":
                rows += bench_backend("sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir, clients=clients,
                                      seconds=seconds, warmup=warmup, workers=workers, route=route,
                                      db_pid=None, profile_dir=profile_dir, progress=progress)
            else:
                with PostgresCluster() as cluster:
                    rows += bench_backend("postgres", cluster.create_database("bench"), workdir,
                                          clients=clients, seconds=seconds, warmup=warmup, workers=workers,
                                          route=route, db_pid=postmaster_pid(cluster),
                                          profile_dir=profile_dir, progress=progress)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    md = table(rows)
    for f in sorted(out.glob("profile-*.txt")):
        md += f"\n\n### {f.stem}\n\n" + profile.report(f)
    (out / "results.md").write_text(md + "\n")
    plot(rows, out / "throughput.png")
    console.print(md)
    return rows
