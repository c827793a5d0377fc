"""`flwr run` on the Ray simulation backend, with a SuperLink this process owns and per-round progress.

We start `flower-superlink --simulation` ourselves (the command `flwr run` would start) on a free port, so
that the run can be stopped and the SuperLink never outlives it. With `ray_address` (or RAY_ADDRESS in the
environment, as inside a Ray job) the simulation attaches to that existing Ray cluster instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from crosslm.config import RunConfig, app_pyproject, defaults
from crosslm.data import write_silos
from crosslm.events import listen
from crosslm.overrides import load_config_file  # noqa: F401  (kept importable here: infra's tests use it)

BIN = Path(sys.executable).parent


class RunFailed(RuntimeError):
    """The Flower run ended without writing its final metrics; the message holds the log's tail."""


def default_config() -> dict[str, Any]:
    return dict(defaults())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flower_env(flwr_home: Path, port: int, ray_address: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "FLWR_HOME": str(flwr_home),
            "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",  # else `uv sync` per run
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(port),
            "FLWR_LOCAL_CONTROL_API_PORT": str(port),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "RAY_DEDUP_LOGS": "0",
            "PYTHONWARNINGS": "ignore::FutureWarning",
        }
    )
    # "local": a Ray of its own even when a cluster runs on this machine (ray.init would attach to it).
    env["RAY_ADDRESS"] = ray_address or "local"
    return env


@contextlib.contextmanager
def superlink(
    flwr_home: Path, ray_address: str | None = None, log_path: Path | None = None
) -> Iterator[dict]:
    """A simulation SuperLink on a free port; yields the environment `flwr run` needs to reach it."""
    flwr_home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = flower_env(flwr_home, port, ray_address)
    log = (log_path or flwr_home / "superlink.log").open("ab")
    cmd = [
        str(BIN / "flower-superlink"),
        "--insecure",
        "--simulation",
        "--isolation",
        "subprocess",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database",
        ":flwr-in-memory:",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise RunFailed(f"flower-superlink exited with code {proc.returncode} (log: {log.name})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                    break
            if time.time() > deadline:
                raise RunFailed("flower-superlink did not become healthy in 60 s")
            time.sleep(0.2)
        yield env
    finally:
        # The SuperLink's simulation process (and the Ray it started) lives in a session of its own and
        # would outlive an interrupted run: note the whole tree first, then stop what is left of it.
        tree = descendants(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _stop(tree)
        log.close()


def descendants(pid: int) -> list[int]:
    """PIDs below `pid` in the process tree (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _stop(pids: list[int], grace: float = 10.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def prepare_app(work: Path) -> Path:
    """An app folder holding just the app's pyproject: the components import the installed package."""
    app_dir = work / "app"
    app_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(app_pyproject(), app_dir / "pyproject.toml")
    return app_dir


def flwr_run(
    env: dict,
    app_dir: Path,
    run_config: dict[str, Any],
    num_supernodes: int,
    client_cpus: float,
    log_path: Path,
    ray_cpus: int | None = None,
    timeout: float | None = None,
) -> int:
    """`flwr run APP --stream` with these run-config overrides; output goes to `log_path`."""
    overrides = app_dir / "run-config.toml"
    overrides.write_text("".join(f"{k} = {_toml_value(v)}\n" for k, v in run_config.items()))
    cpus = int(client_cpus) if float(client_cpus).is_integer() else client_cpus  # Flower wants an int here
    fed = [f"num-supernodes={num_supernodes}", f"client-resources-num-cpus={cpus}"]
    if ray_cpus and env["RAY_ADDRESS"] == "local":  # attaching to a cluster must not pass num_cpus
        fed.append(f"init-args-num-cpus={ray_cpus}")
    cmd = [
        str(BIN / "flwr"),
        "run",
        str(app_dir),
        "--stream",
        "-c",
        str(overrides),
        "--federation-config",
        " ".join(fed),
    ]
    with log_path.open("ab") as log:
        proc = subprocess.run(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, cwd=app_dir.parent
        )
    return proc.returncode


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))


def run(
    cfg: RunConfig,
    num_supernodes: int,
    client_cpus: float = 1.0,
    ray_address: str | None = None,
    ray_cpus: int | None = None,
    on_event: Callable[[dict], None] | None = None,
    timeout: float | None = None,
    flwr_home: Path | None = None,
) -> dict:
    """One complete run through Flower on Ray; returns the final metrics (metrics.json).

    Each client's silo is written to `<out-dir>/silos` first (unless `silo-dir` names existing ones);
    `on_event` receives the ServerApp's progress events (crosslm.events) as they happen.
    """
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.silo_dir:
        cfg = cfg.replace(silo_dir=str(out / "silos"))
        write_silos(cfg, num_supernodes, cfg.silo_dir)
    ray_address = ray_address or os.environ.get("RAY_ADDRESS") or None
    with contextlib.suppress(ValueError):  # SIGTERM unwinds like Ctrl-C, so the SuperLink is stopped
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not cfg.resume:  # a fresh run must not report an older run's results
        (out / "metrics.json").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="crosslm-flwr-") as tmp, listen(on_event or _ignore) as address:
        work = Path(tmp)
        home = flwr_home or Path(os.environ.get("FLWR_HOME") or work / "flwr-home")
        log_path = out / "flower.log"
        with superlink(home, ray_address, out / "superlink.log") as env:
            app_dir = prepare_app(work)
            run_config = cfg.replace(events=address).to_mapping()
            code = flwr_run(
                env, app_dir, run_config, num_supernodes, client_cpus, log_path, ray_cpus, timeout
            )
    final = out / "metrics.json"
    if not final.exists():
        raise RunFailed(
            f"the Flower run ended (exit {code}) without final metrics; log tail:\n" + _tail(log_path)
        )
    return json.loads(final.read_text())


def _ignore(event: dict) -> None:
    pass


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
