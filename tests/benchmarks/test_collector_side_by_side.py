"""The side-by-side benchmark harness (services/collector/benchmarks, not in the package), end to end in
miniature: one level, one client, 2 s, the reference baseline and ours on one throwaway PostgreSQL. Both
must answer 2xx and store every upload they acknowledged.

Needs wrk and PostgreSQL's server binaries from Debian (`.ci/run` installs both) and the harness's own
requirements (services/collector/benchmarks/requirements.txt, in requirements-dev.txt): a cross-package
test, since the benchmark is not part of the collector package."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sharelm_collector.devtools.postgres import find_bindir

RUN = Path(__file__).resolve().parents[2] / "services" / "collector" / "benchmarks" / "run.py"
NEEDS = ("flask", "gunicorn", "anonymization", "psutil", "matplotlib", "rich")

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_side_by_side_one_level(tmp_path):
    assert shutil.which("wrk"), "wrk is not installed (apt-get install -y wrk)"
    assert find_bindir(), "PostgreSQL server binaries (initdb/pg_ctl) are not installed"
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    assert not missing, f"services/collector/benchmarks/requirements.txt not installed ({', '.join(missing)})"
    done = subprocess.run(
        [sys.executable, str(RUN), "--clients", "1", "--seconds", "2", "--warmup", "0", "--db-warmup", "0",
         "--no-sqlite", "--no-profile", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "results.json").read_text())
    runs = {r["server"]: r for r in result["results"]}
    assert set(runs) == {"reference", "ours"}
    for name, r in runs.items():
        assert r["ok"] > 0 and r["non_2xx"] == 0 and r["socket_errors_total"] == 0, (name, r)
        assert r["stored_missing"] == 0 and r["stored_duplicated"] == 0, (name, r)
        assert r["stored_rows"] >= r["stored_acknowledged"] >= r["ok"], (name, r)
    # Both servers and their database were pinned apart from the load.
    meta = result["meta"]
    if meta["server_cpus"]:
        assert set(meta["affinity"]["reference"]) == set(meta["affinity"]["ours"]) == set(meta["server_cpus"])
        assert set(meta["affinity"]["postgres"]) == set(meta["server_cpus"])
    table = (tmp_path / "results.md").read_text()
    assert "| clients | reference req/s | ours req/s | ratio |" in table
    assert (tmp_path / "throughput.png").stat().st_size > 0
