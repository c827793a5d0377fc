"""Where the server's CPU goes: py-spy samples of every worker, each sample charged to the innermost frame
that belongs to a known layer (so `re` under `sharelm/redact.py` counts as redaction)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Checked innermost frame first; the first layer whose pattern matches a frame's file takes the sample.
LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("redaction (sharelm.redact)", re.compile(r"sharelm/redact\.py")),
    ("redaction (anonymization + Faker: the reference)", re.compile(r"(^|/)(anonymization|faker)/")),
    ("JSON encode/decode", re.compile(r"(^|/)json/")),
    ("pydantic validation/serialisation", re.compile(r"(^|/)pydantic(_core)?/")),
    ("SQLAlchemy", re.compile(r"(^|/)sqlalchemy/")),
    ("DB driver (psycopg / sqlite3)", re.compile(r"(^|/)(psycopg|sqlite3)/")),
    ("Prometheus metrics", re.compile(r"(^|/)prometheus_client/")),
    ("FastAPI / Starlette", re.compile(r"(^|/)(fastapi|starlette)/")),
    ("Flask / Werkzeug (the reference)", re.compile(r"(^|/)(flask|werkzeug)/")),
    ("thread pool (anyio)", re.compile(r"(^|/)(anyio/|threading\.py|concurrent/)")),
    ("HTTP server and event loop", re.compile(r"(^|/)(uvicorn|httptools|h11|asyncio|uvloop|gunicorn)/")),
    ("collector code", re.compile(r"sharelm_collector/")),
    ("reference code", re.compile(r"reference_backend/")),
]
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """py-spy from the running environment (a venv's bin is often not on PATH), else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, cpus: set[int] | None = None) -> Path:
    """Sample the server's process tree (supervisor and workers) into py-spy's collapsed-stack format;
    py-spy itself runs on `cpus` (the load generator's), off the servers' CPUs."""
    pin = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    # --gil: only the thread holding the GIL is sampled, i.e. Python CPU time, not threads waiting on I/O.
    subprocess.run([*pin, py_spy(), "record", "--pid", str(pid), "--subprocesses", "--duration",
                    str(int(seconds)), "--rate", "200", "--format", "raw", "--output", str(out),
                    "--nonblocking", "--gil"],
                   check=True, capture_output=True, timeout=seconds + 60)
    return out


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):  # leaf first
        m = _FRAME.match(frame)
        file = m.group("file") if m else frame
        for name, pattern in LAYERS:
            if pattern.search(file):
                return name
    return "other (interpreter, stdlib)"


def breakdown(collapsed: Path) -> tuple[Counter, Counter]:
    """(samples per layer, samples per leaf function) from a py-spy raw file."""
    layers: Counter = Counter()
    leaves: Counter = Counter()
    for line in collapsed.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        stack = stack_text.split(";")
        layers[layer_of(stack)] += int(count)
        leaves[stack[-1]] += int(count)
    return layers, leaves


def report(collapsed: Path, top: int = 12) -> str:
    layers, leaves = breakdown(collapsed)
    total = sum(layers.values()) or 1
    lines = ["| layer | share of server CPU samples |", "|---|---:|"]
    lines += [f"| {name} | {100 * n / total:.1f}% |" for name, n in layers.most_common()]
    lines += ["", f"Top leaf functions ({total} samples):", ""]
    lines += [f"- {100 * n / total:.1f}% `{leaf}`" for leaf, n in leaves.most_common(top)]
    return "\n".join(lines)
