"""Step 3: CrossLM in response mode (Flower on a local Ray) with tiny models on the exported snapshot.

The contributors' rated answers (step 1 rates them by `collect.likes`) train each client's reward model;
the LLM answers the server's public prompts, only the reward models' scores come back, and the LLM is tuned
on its best-scored answers. The same rule then judges the LLM's answers to held-out prompts, before vs after.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

from demo.services import DemoError, venv_command
from demo.steps.collect import LIKED_MAX_WORDS, likes

# The smoke run (the end-to-end test) keeps the protocol and shrinks the work per round.
SMOKE_SETTINGS = {"prompts-per-round": 8, "llm-epochs": 1, "slm-epochs": 2}


def crosslm_rounds(
    snapshot: Path,
    out: Path,
    rounds: int,
    clients: int,
    log_path: Path,
    env: dict[str, str],
    smoke: bool,
    progress,
) -> dict:
    settings = {
        "data-path": str(snapshot),
        "out-dir": str(out),
        "num-rounds": rounds,
        "mode": "response",
        "partition-by": "user_id",  # a client per contributor (the collector's user_id)
        "llm": "tiny:llama",
        "public-fraction": 0.2,  # the server's share: its prompts, and the tiny models are built from it
        "prompts-per-round": 24,
        "answers-per-prompt": 4,
        "threshold": 0.35,
        "regularizer": "lora+replay",
        "slms": "tiny:bert,tiny:gpt2",
        "min-clients": clients,
        **(SMOKE_SETTINGS if smoke else {}),
    }
    argv = [venv_command("crosslm"), "run", "--json", "--clients", str(clients), "--client-cpus", "1"]
    for key, value in settings.items():
        argv += ["-c", f"{key}={json.dumps(value)}"]
    task = progress.add_task(f"CrossLM rounds ({clients} clients, non-IID)", total=rounds)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:  # `crosslm run --json`: one progress event a line (other lines: logs)
            log.write(line)
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                event = json.loads(line)
                if event.get("kind") == "round":
                    progress.update(task, completed=int(event["record"]["round"]))
        proc.wait()
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise DemoError(f"`crosslm run` failed ({proc.returncode}); see {log_path}:\n{tail}")
    metrics_path = out / "metrics.json"
    if not metrics_path.exists():
        raise DemoError(f"`crosslm run` finished without {metrics_path}")
    return {"out_dir": str(out), "metrics": json.loads(metrics_path.read_text()), **judge(out)}


def judge(out: Path) -> dict:
    """The demo's rating rule on the LLM's answers to the held-out prompts: win rate after vs before."""
    before = json.loads((out / "answers-before.json").read_text())
    after = json.loads((out / "answers-after.json").read_text())
    wins = [0.5 + 0.5 * (likes(a["answer"]) - likes(b["answer"])) for b, a in zip(before, after, strict=True)]
    return {
        "rule": f"an answer of at most {LIKED_MAX_WORDS} words is liked",
        "win_rate": sum(wins) / len(wins) if wins else float("nan"),
        "liked_before": sum(likes(b["answer"]) for b in before),
        "liked_after": sum(likes(a["answer"]) for a in after),
        "held_out_prompts": len(before),
        "examples": [
            {"prompt": b["prompt"], "before": b["answer"], "after": a["answer"]}
            for b, a in list(zip(before, after, strict=True))[:4]
        ],
    }
