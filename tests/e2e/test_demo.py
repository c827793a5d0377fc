"""The platform end to end: `python -m demo --smoke` runs every real service and pipeline at small scale."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from demo.services import DemoError, Service, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_smoke_runs_the_whole_platform(tmp_path):
    out = tmp_path / "demo-report"
    done = subprocess.run(
        [sys.executable, "-m", "demo", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())

    collect, export = report["collect"], report["export"]
    assert collect["uploaded"] == 300 and collect["deleted"] == 10 and collect["plugin_uploads"] == 3
    # Every kept conversation is exported, no deleted one (the export step checks ids), PII redacted.
    assert export["conversations"] == collect["uploaded"] - collect["deleted"] + collect["plugin_uploads"]
    assert export["by_source"]["share_lm_plugin"] == 3 and export["redacted"] >= 3

    rounds = report["crosslm"]["metrics"]["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert all(r["num_ok"] == 3 for r in rounds)
    assert all(0.0 <= r["slm_mean_accuracy"] <= 1.0 for r in rounds)
    # Response mode on what the collector stored: the contributors' rule judges answers before/after.
    assert report["crosslm"]["metrics"]["config"]["mode"] == "response"
    assert 0.0 <= report["crosslm"]["win_rate"] <= 1.0 and report["crosslm"]["examples"]

    chat = report["chat"]
    assert chat["turns"] == 4 and chat["contributed"]
    assert chat["history_tokens"] == sorted(chat["history_tokens"])
    # Each turn re-used the chunks the earlier turns encoded.
    assert chat["chunks_reused"] > 0

    for name in ("README.md", "collection_topics.png", "chat_ttft.png", "crosslm/report.png"):
        assert (out / name).stat().st_size > 0, name
    # Response mode has no LLM task accuracy: the report says so instead of printing "nan".
    assert not re.search(r"\|\s*nan\s*\|", (out / "README.md").read_text())


def test_a_service_that_dies_at_start_is_a_readable_error(tmp_path):
    port = free_port()
    argv = [sys.executable, "-c", "import sys; print('bad setting: DATABASE_URL'); sys.exit(3)"]
    service = Service("collector", argv, port, tmp_path / "log.txt", {}, ready_timeout=30)
    with pytest.raises(DemoError) as exc:
        service.start()
    assert "collector exited with code 3" in str(exc.value)
    assert "bad setting: DATABASE_URL" in str(exc.value)
