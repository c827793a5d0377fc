"""Step 3: CrossLM rounds (Flower on a local Ray) with tiny models on the exported collection snapshot."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

from demo.services import DemoError, venv_command

# Six ChatterBot topics of comparable size: a task the tiny models can learn in a few rounds on 2 cores
# (the corpus is half "tech support", and its smallest topics have a handful of dialogs).
TOPICS = "AI,coding,emotion,literature,psychology,trivia"

# The smoke run (the end-to-end test) keeps the protocol and shrinks the work per round.
SMOKE_SETTINGS = {"samples-per-label": 4, "llm-epochs": 1, "slm-epochs": 2}


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
        "task": "topic",
        "task-field": "topic",
        "task-labels": TOPICS,
        "partition-by": "dirichlet",
        "dirichlet-alpha": 0.5,
        "llm": "tiny:llama",
        "public-fraction": 0.2,  # the server's share: the tiny models are built from it alone
        "threshold": 0.3,  # 6 labels (chance 0.17): the default 0.5 accepts nothing from tiny SLMs
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
    return {"out_dir": str(out), "metrics": json.loads(metrics_path.read_text())}
