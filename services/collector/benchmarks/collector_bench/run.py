"""The collector benchmark, side by side (`run.py` beside this package): the reference backend's design
(reference_backend/, Flask + gunicorn sync workers) and sharelm-collector on one throwaway PostgreSQL
(separate databases), then ours on SQLite; the same wrk request stream at each concurrency, servers and
database pinned to one CPU set and wrk to another, every acknowledged upload checked in the database after
each level; a table, JSON, a plot and py-spy profiles."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from collector_bench import profile
from collector_bench.load import run_wrk
from collector_bench.servers import ReferenceServer, affinity, check_stored, pin
from sharelm_collector.devtools.postgres import PostgresCluster
from sharelm_collector.devtools.server import CollectorServer

# No rate limits while measuring throughput (the reference has none); redaction, validation, idempotency and
# metrics stay on.
SERVER_ENV = {
    "SHARELM_COLLECTOR_RATE_LIMIT_PER_IP": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_PER_CONTRIBUTOR": "0",
    "SHARELM_COLLECTOR_RATE_LIMIT_SIGNUPS_PER_IP": "0",
}
REFERENCE, OURS = "reference", "ours"


def default_cpus() -> tuple[set[int], set[int]]:
    """(system under test, load): the first half of the CPUs for the servers and PostgreSQL, the rest for
    wrk; on 2 cores core 0 for the servers with their database, core 1 for wrk. One CPU: no pinning."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(), set()
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def tree_cpu(pid: int | None) -> float:
    """User+system CPU seconds of a process, its live descendants and its reaped children (PostgreSQL
    backends come and go; the postmaster's children_* times keep the ones that ended)."""
    if pid is None:
        return 0.0
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


class Target:
    """One running server under test: where to send load, where its rows are, what it has acknowledged."""

    def __init__(self, name: str, backend: str, url: str, database_url: str, pid: int, db_pid: int | None,
                 workdir: Path):
        self.name, self.backend, self.url, self.database_url = name, backend, url, database_url
        self.pid, self.db_pid, self.workdir = pid, db_pid, workdir
        self.acked: set[str] = set()
        self.runs = 0

    @property
    def label(self) -> str:
        return f"{self.name}-{self.backend}"

    def load(self, clients: int, seconds: float, load_cpus: set[int]) -> dict:
        """One wrk run; the ids it got a 2xx for join this server's acknowledged set."""
        self.runs += 1
        ids = self.workdir / f"acked-{self.label}-{self.runs}.txt"
        r = run_wrk(self.url, clients, seconds, cpus=load_cpus, ids_file=ids)
        got = ids.read_text().split() if ids.exists() else []
        if len(got) != r["ok"]:
            raise RuntimeError(f"{self.label}: wrk counted {r['ok']} 2xx but recorded {len(got)} ids")
        self.acked.update(got)
        return r


def measure(t: Target, clients: int, seconds: float, warmup: float, load_cpus: set[int], progress) -> dict:
    if warmup > 0:
        t.load(clients, warmup, load_cpus)
    cpu0 = (tree_cpu(t.pid), tree_cpu(t.db_pid))
    t0 = time.monotonic()
    r = t.load(clients, seconds, load_cpus)
    wall = time.monotonic() - t0
    cpu1 = (tree_cpu(t.pid), tree_cpu(t.db_pid))
    stored = check_stored(t.database_url, t.acked)
    r.update(server=t.name, backend=t.backend, wall_s=wall, server_cpu_s=cpu1[0] - cpu0[0],
             db_cpu_s=cpu1[1] - cpu0[1], loadavg_1m=os.getloadavg()[0], **{f"stored_{k}": v for k, v in
                                                                           stored.items()})
    progress(r)
    return r


def profile_under_load(t: Target, clients: int, seconds: float, load_cpus: set[int],
                       out: Path) -> Path | None:
    """py-spy on the server's process tree (pinned with the load, off the servers' CPUs) while wrk runs."""
    if not profile.py_spy():
        return None
    path = out / f"profile-{t.label}-{clients}.txt"
    th = threading.Thread(target=t.load, args=(clients, seconds + 3, load_cpus))
    th.start()
    time.sleep(1.5)
    try:
        profile.record(t.pid, seconds, path, cpus=load_cpus)
    finally:
        th.join()
    return path


@contextlib.contextmanager
def start_pinned(server, cpus: set[int]):
    """Start a server, pin its process tree (supervisor, workers, their threads) to `cpus`, stop it after."""
    server.start()
    try:
        pin(server.proc.pid, cpus)
        yield server
    finally:
        server.stop()


def run_levels(targets: list[Target], clients: list[int], seconds: float, warmup: float, load_cpus: set[int],
               progress) -> list[dict]:
    """For each level, each target in turn (the same stream shape, one after the other)."""
    rows = []
    for n in clients:
        for t in targets:
            rows.append(measure(t, n, seconds, warmup, load_cpus, progress))
    return rows


def main(*, clients: list[int], seconds: float, warmup: float, db_warmup: float, workers: int,
         out: Path, ours_workers: int | None = None,
         sqlite: bool, profile_clients: int | None, server_cpus: set[int] | None,
         load_cpus: set[int] | None) -> dict:
    from rich.console import Console

    console = Console()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("profile-*.txt"):
        stale.unlink()
    if server_cpus is None or load_cpus is None:
        d_server, d_load = default_cpus()
        server_cpus = d_server if server_cpus is None else server_cpus
        load_cpus = d_load if load_cpus is None else load_cpus
    if server_cpus & load_cpus:
        raise SystemExit(f"server CPUs {sorted(server_cpus)} and load CPUs {sorted(load_cpus)} overlap")
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
        "cpus": os.cpu_count(), "server_cpus": sorted(server_cpus), "load_cpus": sorted(load_cpus),
        "workers": workers, "ours_workers": ours_workers or workers, "seconds": seconds, "warmup_s": warmup,
        "db_warmup_s": db_warmup,
        "loadavg_before": os.getloadavg(), "uptime_before": uptime(),
    }
    rows: list[dict] = []
    profiles: dict[str, str] = {}

    def progress(r: dict) -> None:
        console.print(
            f"[bold]{r['server']:>9}[/] {r['backend']:<8} {r['clients']:>3} clients: "
            f"{r['throughput']:7.0f} req/s, "
            f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, non-2xx {r['non_2xx']}, socket errors "
            f"{r['socket_errors_total']}, rows {r['stored_rows']}/{r['stored_acknowledged']} acked "
            f"(missing {r['stored_missing']}), load {r['loadavg_1m']:.1f}")

    with tempfile.TemporaryDirectory(prefix="sharelm-bench-") as tmp:
        workdir = Path(tmp)
        with PostgresCluster() as cluster:
            db_pid = postmaster_pid(cluster)
            pin(db_pid, server_cpus)
            ref_url, ours_url = cluster.create_database("reference"), cluster.create_database("ours")
            with start_pinned(ReferenceServer(ref_url, workdir / REFERENCE, workers=workers),
                              server_cpus) as ref, \
                 start_pinned(CollectorServer(ours_url, workdir / OURS, workers=ours_workers or workers,
                                              env=SERVER_ENV),
                              server_cpus) as ours:
                targets = [Target(REFERENCE, "postgres", ref.url, ref_url, ref.proc.pid, db_pid, workdir),
                           Target(OURS, "postgres", ours.url, ours_url, ours.proc.pid, db_pid, workdir)]
                meta["affinity"] = {"reference": affinity(ref.proc.pid), "ours": affinity(ours.proc.pid),
                                    "postgres": affinity(db_pid)}
                # A fresh cluster commits slowly until its WAL segments exist: load both before measuring.
                for t in targets:
                    if db_warmup > 0:
                        t.load(16, db_warmup, load_cpus)
                rows += run_levels(targets, clients, seconds, warmup, load_cpus, progress)
                if profile_clients:
                    for t in reversed(targets):
                        path = profile_under_load(t, profile_clients, min(seconds, 10), load_cpus, out)
                        if path:
                            profiles[path.stem] = profile.report(path)
                    meta["after_profiles"] = {t.label: check_stored(t.database_url, t.acked) for t in targets}
        if sqlite:
            url = f"sqlite:///{workdir / 'bench.db'}"
            with start_pinned(CollectorServer(url, workdir / "sqlite", workers=ours_workers or workers,
                                              env=SERVER_ENV),
                              server_cpus) as server:
                t = Target(OURS, "sqlite", server.url, url, server.proc.pid, None, workdir)
                meta["affinity"]["ours-sqlite"] = affinity(server.proc.pid)
                rows += run_levels([t], clients, seconds, warmup, load_cpus, progress)
    meta.update(loadavg_after=os.getloadavg(), uptime_after=uptime())
    result = {"meta": meta, "results": rows, "profiles": profiles}
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    md = report(result)
    (out / "results.md").write_text(md + "\n")
    plot(rows, out / "throughput.png", note=plot_note(meta))
    console.print(md)
    return result


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def find(rows: list[dict], server: str, backend: str, clients: int) -> dict | None:
    key = (server, backend, clients)
    return next((r for r in rows if (r["server"], r["backend"], r["clients"]) == key), None)


def side_by_side(rows: list[dict]) -> str:
    lines = ["| clients | reference req/s | ours req/s | ratio | p99 reference | p99 ours "
             "| non-2xx (ref / ours) | rows stored / acknowledged (ref; ours) |",
             "|---:|---:|---:|---:|---:|---:|---|---|"]
    for n in sorted({r["clients"] for r in rows if r["backend"] == "postgres"}):
        a, b = find(rows, REFERENCE, "postgres", n), find(rows, OURS, "postgres", n)
        if not a or not b:
            continue
        ratio = b["throughput"] / a["throughput"] if a["throughput"] else float("nan")
        lines.append(
            f"| {n} | {a['throughput']:.0f} | {b['throughput']:.0f} | {ratio:.2f}x | {a['p99_ms']:.1f} ms "
            f"| {b['p99_ms']:.1f} ms | {a['non_2xx'] + a['socket_errors_total']} / "
            f"{b['non_2xx'] + b['socket_errors_total']} | {a['stored_rows']} / {a['stored_acknowledged']}; "
            f"{b['stored_rows']} / {b['stored_acknowledged']} |")
    return "\n".join(lines)


def details(rows: list[dict]) -> str:
    lines = ["| server | database | clients | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors "
             "| missing / duplicated | cores used (server / DB / wrk) | CPU ms per 2xx (server / DB / wrk) "
             "| load avg |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|"]
    for r in rows:
        n = max(1, r["ok"])
        lines.append(
            f"| {r['server']} | {r['backend']} | {r['clients']} | {r['throughput']:.0f} | {r['p50_ms']:.1f} "
            f"| {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['non_2xx']} | {r['socket_errors_total']} "
            f"| {r['stored_missing']} / {r['stored_duplicated']} "
            f"| {r['server_cpu_s'] / r['wall_s']:.2f} / {r['db_cpu_s'] / r['wall_s']:.2f} / "
            f"{r['client_cpu_s'] / r['wall_s']:.2f} | {1000 * r['server_cpu_s'] / n:.2f} / "
            f"{1000 * r['db_cpu_s'] / n:.2f} / {1000 * r['client_cpu_s'] / n:.2f} | {r['loadavg_1m']:.1f} |")
    return "\n".join(lines)


def report(result: dict) -> str:
    m, rows = result["meta"], result["results"]
    lost = sum(r["stored_missing"] + r["stored_duplicated"] for r in rows)
    verdict = "none missing or duplicated" if lost == 0 else f"{lost} MISSING OR DUPLICATED"
    parts = [
        f"# Collector upload benchmark, side by side ({m['date']})",
        "",
        f"Reference design (Flask, gunicorn {m['workers']} sync workers, one shared session) and "
        f"sharelm-collector (uvicorn, {m.get('ours_workers', m['workers'])} workers) on one PostgreSQL 15 "
        f"(fsync on, separate "
        f"databases); then ours on SQLite. Servers and PostgreSQL on CPUs {m['server_cpus'] or 'all'}, "
        f"wrk on CPUs {m['load_cpus'] or 'all'}; {m['seconds']:g} s measured per level after "
        f"{m['warmup_s']:g} s of warm-up, every body a unique ~1 KB plugin upload (`POST /api/endpoint`, "
        f"an e-mail and a phone to redact). Rows are counted after each level: every 2xx's conversation id "
        f"must be stored exactly once ({verdict}).",
        "",
        f"Machine load: before `{m['uptime_before']}`; after `{m['uptime_after']}`.",
        "",
        "## PostgreSQL, side by side",
        "",
        side_by_side(rows),
        "",
        "## Every run",
        "",
        details(rows),
    ]
    for name, text in result["profiles"].items():
        parts += ["", f"## {name} (py-spy, GIL holder only)", "", text]
    return "\n".join(parts)


def plot_note(meta: dict) -> str:
    when = meta["date"][:16].replace("T", " ")
    return (f"{when} UTC; servers + PostgreSQL on CPUs {meta['server_cpus'] or 'all'}, wrk on "
            f"{meta['load_cpus'] or 'all'}; machine load average {meta['loadavg_before'][0]:.1f} before, "
            f"{meta['loadavg_after'][0]:.1f} after")


def plot(rows: list[dict], path: Path, note: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {(REFERENCE, "postgres"): ("tab:gray", "-", "reference (Flask/gunicorn), PostgreSQL"),
              (OURS, "postgres"): ("tab:blue", "-", "sharelm-collector, PostgreSQL"),
              (OURS, "sqlite"): ("tab:green", "--", "sharelm-collector, SQLite (ours only)")}
    for (server, backend), (color, ls, label) in styles.items():
        rs = sorted((r for r in rows if (r["server"], r["backend"]) == (server, backend)),
                    key=lambda r: r["clients"])
        if not rs:
            continue
        xs = [r["clients"] for r in rs]
        ax1.plot(xs, [r["throughput"] for r in rs], marker="o", color=color, linestyle=ls, label=label)
        ax2.plot(xs, [r["p99_ms"] for r in rs], marker="o", color=color, linestyle=ls, label=label)
    for ax, title in ((ax1, "uploads per second (2xx)"), (ax2, "p99 latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["clients"] for r in rows}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("concurrent connections (wrk)")
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    if note:
        fig.suptitle(note, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
