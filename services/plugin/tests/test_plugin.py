"""The browser extension's test suites, run from `make test`'s pytest:

- `node --test tests/unit/`: adapters on saved DOM fixtures, Markdown, redaction parity with
  `sharelm.redact`, schema-valid exports, storage and outbox rules.
- `node tests/e2e/run.mjs`: Debian's Chromium with the unpacked extension against the fixture sites and the
  REAL collector (`sharelm-collector serve` on SQLite), which this file owns: the e2e script asks for it to be
  killed mid-publish and restarted, and for the collector's database to be checked, over a line protocol
  (`@@control {...}` on its stdout, one JSON answer per line on its stdin).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PLUGIN = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")


def _need_tools() -> None:
    if NODE is None:
        pytest.skip("node is not installed")
    if not (PLUGIN / "node_modules" / "playwright-core").is_dir():
        pytest.fail("services/plugin/node_modules is missing: run `make install` (npm ci)")


class Collector:
    """`sharelm-collector serve` on a private SQLite database and a free port; killable and restartable."""

    def __init__(self, workdir: Path):
        self.db = workdir / "collector.db"
        self.log = workdir / "collector.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.db}"}
        cmd = [sys.executable, "-m", "sharelm_collector", "serve", "--port", str(self.port), "--workers", "1"]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("collector did not become healthy in 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, as in a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def rows(self) -> dict[str, dict]:
        """conversation_id -> stored document, plus the row's version under "_version"."""
        with sqlite3.connect(self.db) as con:
            return {cid: {**json.loads(doc), "_version": version} for cid, doc, version in con.execute(
                "select conversation_id, document, version from conversations")}


@pytest.fixture
def collector(tmp_path):
    c = Collector(tmp_path)
    c.start()
    yield c
    c.kill()


def verify(rows: dict[str, dict], expected: list[dict], absent: list[str], forbidden: list[str]) -> list[str]:
    """The collector's database against what the browser test did; returns the problems found."""
    problems = []
    want = {e["conversation_id"] for e in expected}
    if set(rows) != want:
        problems.append(f"stored ids {sorted(rows)} != kept ids {sorted(want)}")
    for e in expected:
        doc = rows.get(e["conversation_id"])
        if doc is None:
            continue
        meta = doc["conversation_metadata"]
        name = e["key"]
        if "version" in e and doc["_version"] != e["version"]:
            problems.append(f"{name}: version {doc['_version']} != {e['version']} (idempotent re-send)")
        if meta["message_ratings"] != e["message_ratings"]:
            problems.append(f"{name}: ratings {meta['message_ratings']} != {e['message_ratings']}")
        if meta["rate"] != e["rate"]:
            problems.append(f"{name}: rate {meta['rate']!r} != {e['rate']!r}")
        if len(doc["conversation"]) != e["n_messages"]:
            problems.append(f"{name}: {len(doc['conversation'])} messages, expected {e['n_messages']}")
        contents = [m["content"] for m in doc["conversation"]]
        problems += [f"{name}: no message equals {c!r}" for c in e["contains"] if c not in contents]
        # The extension's own summary (the collector redacts again, but finds nothing left to count).
        if sorted(meta["extra"].get("redactions", {})) != sorted(e["redactions"]):
            found = meta["extra"].get("redactions")
            problems.append(f"{name}: extension redactions {found} != {e['redactions']}")
        if meta["redacted"] != ("True" if e["redactions"] else "False"):
            problems.append(f"{name}: redacted flag {meta['redacted']!r}")
        if meta["extra"].get("platform") != e["platform"] or "?" in meta["extra"].get("page_url", "?"):
            problems.append(f"{name}: platform/page_url wrong: {meta['extra']}")
        if "user_id" in e and doc["user_id"] != e["user_id"]:
            problems.append(f"{name}: user_id {doc['user_id']!r} != {e['user_id']!r}")
        if doc["source"] != "share_lm_plugin" or not doc["user_id"]:
            problems.append(f"{name}: source/user_id wrong: {doc['source']!r} {doc['user_id']!r}")
    problems += [f"{cid} should not be stored" for cid in absent if cid in rows]
    text = json.dumps(rows)
    problems += [f"database contains {f!r}" for f in forbidden if f in text]
    return problems


def test_node_unit_suites():
    _need_tools()
    res = subprocess.run(
        [NODE, "--test", "tests/unit/"], cwd=PLUGIN, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-3000:]
    assert "# fail 0" in res.stdout and "# pass 0" not in res.stdout, res.stdout[-2000:]


def test_browser_end_to_end_with_real_collector(collector, tmp_path):
    _need_tools()
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium)")
    out = Path(os.environ.get("SHARELM_E2E_OUT", PLUGIN / "test-results" / "e2e"))
    env = {**os.environ, "SHARELM_E2E_OUT": str(out), "CHROMIUM": CHROMIUM}
    proc = subprocess.Popen(
        [NODE, "tests/e2e/run.mjs"], cwd=PLUGIN, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(tmp_path / "e2e.log").open("w"),
    )
    problems: list[str] = []
    verified = 0
    watchdog = threading.Timer(300, proc.kill)  # a hung browser must not hang the suite
    watchdog.start()
    try:
        for line in proc.stdout:
            if not line.startswith("@@control "):
                continue
            req = json.loads(line[len("@@control "):])
            reply: dict = {"ok": True}
            if req["op"] == "url":
                reply["url"] = collector.url
            elif req["op"] == "kill":
                collector.kill()
                reply["ids"] = sorted(collector.rows())
                reply["stored"] = len(reply["ids"])
            elif req["op"] == "start":
                collector.start()
            elif req["op"] == "verify":
                found = verify(collector.rows(), req["expected"], req["absent"], req["forbidden"])
                verified += 1
                if found:
                    problems += found
                    reply = {"ok": False, "error": "; ".join(found)[:2000]}
            else:
                reply = {"ok": False, "error": f"unknown op {req['op']}"}
            proc.stdin.write(json.dumps(reply) + "\n")
            proc.stdin.flush()
        rc = proc.wait(60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "e2e.log").read_text()
    print(log[-3000:])  # step timings, shown with -rP
    assert not problems, "\n".join(problems)
    assert rc == 0, log[-6000:]
    assert verified == 4, log[-3000:]
    for shot in ("popup-consent.png", "popup-list.png", "popup-ratings.png"):
        assert (out / shot).stat().st_size > 5000, shot
