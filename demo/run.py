"""`python -m demo`: collector -> export -> CrossLM rounds -> long chat -> contribution, then a report.

Every service is started for real on loopback from the installed console scripts and stopped at the end.
`--smoke` runs the same pipeline at the smallest size (the end-to-end test uses it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo.report import write_report
from demo.services import DemoError, Service, free_port, venv_command
from demo.steps.chat import long_chat
from demo.steps.collect import PLUGIN_UPLOADS, collect, create_contributor
from demo.steps.crosslm import crosslm_rounds
from demo.steps.export import export_snapshot

console = Console(stderr=True)
app = typer.Typer(add_completion=False, help=__doc__)


def _progress() -> Progress:
    return Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _as_dict(result):
    return asdict(result) if is_dataclass(result) else result


class Pipeline:
    """Runs the steps in order, timing each, and keeps their results for the report."""

    def __init__(self, out: Path, smoke: bool, seed: int):
        self.out, self.smoke, self.seed = out, smoke, seed
        self.results: dict[str, dict] = {}
        self.timings: dict[str, float] = {}

    def step(self, key: str, title: str, fn, *args, **kwargs):
        console.rule(f"[bold]{len(self.timings) + 1}. {title}")
        start = time.perf_counter()
        try:
            with _progress() as progress:
                result = (
                    fn(*args, progress=progress, **kwargs)
                    if "progress" in fn.__code__.co_varnames
                    else fn(*args, **kwargs)
                )
        except DemoError:
            raise
        except Exception as exc:  # a step's unexpected failure still ends with a readable message
            raise DemoError(f"step '{title}' failed: {type(exc).__name__}: {exc}") from exc
        self.timings[key] = round(time.perf_counter() - start, 2)
        self.results[key] = _as_dict(result)
        console.print(f"  done in {self.timings[key]:.1f} s")
        return result


def run_pipeline(out: Path, smoke: bool, seed: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    (out / "logs").mkdir(parents=True)
    pipe = Pipeline(out, smoke, seed)
    operator = "demo-operator-token"
    collector_env = {
        "DATABASE_URL": f"sqlite:///{(out / 'collector.db').resolve()}",
        "SHARELM_OPERATOR_TOKEN": operator,
        "SHARELM_COLLECTOR_WORKERS": "1",
    }
    port = free_port()
    collector = Service(
        "collector",
        [venv_command("sharelm-collector"), "serve", "--port", str(port)],
        port,
        out / "logs" / "collector.log",
        collector_env,
        ready_path="/readyz",
    )
    with collector:
        stored = pipe.step(
            "collect",
            "Collector: contributors upload, rate and delete dialogs",
            collect,
            collector.url,
            contributors=4,
            max_conversations=300 if smoke else None,
            seed=seed,
        )
        kept = stored.kept_ids | {u["conversation_id"] for u in PLUGIN_UPLOADS}
        pipe.step(
            "export",
            "Operator: export a collection snapshot (Hugging Face dataset)",
            export_snapshot,
            collector.env,
            out / "collection",
            kept,
            stored.deleted_ids,
        )
        pipe.step(
            "crosslm",
            "CrossLM: federated rounds on a local Ray, tiny models, non-IID clients",
            crosslm_rounds,
            out / "collection",
            out / "crosslm",
            rounds=2 if smoke else 3,
            clients=3,
            log_path=out / "logs" / "crosslm.log",
            env=_crosslm_env(out),
            smoke=smoke,
        )
        chat_token = create_contributor(collector.url)
        chat_port = free_port()
        chat_env = {
            "SHAREDLLM_CHAT_COLLECTOR_URL": collector.url,
            "SHAREDLLM_CHAT_COLLECTOR_TOKEN": chat_token,
        }
        chat = Service(
            "chat service",
            [venv_command("sharedllm-chat"), "serve", "--port", str(chat_port)],
            chat_port,
            out / "logs" / "chat.log",
            chat_env,
        )
        with chat:
            pipe.step(
                "chat",
                "Chat: a long chat with a tiny SharedLLM, a rating, contributed back",
                long_chat,
                chat.url,
                collector.url,
                chat_token,
                turns=4 if smoke else 12,
                words_per_turn=300 if smoke else 1500,
            )
    report = {"smoke": smoke, "seed": seed, "timings_s": pipe.timings, **pipe.results}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=sorted))
    write_report(out, report)
    return report


def _crosslm_env(out: Path) -> dict[str, str]:
    """Flower's state stays inside the report folder; the SuperLink must not install anything."""
    return {
        **os.environ,
        "FLWR_HOME": str((out / "flwr").resolve()),
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "FLWR_TELEMETRY_ENABLED": "0",
    }


@app.command()
def main(
    out: Path = typer.Option(Path("demo-report"), help="Where the report, logs and data go"),
    smoke: bool = typer.Option(False, help="Smallest sizes: the end-to-end test's version"),
    seed: int = typer.Option(0),
) -> None:
    start = time.perf_counter()
    try:
        run_pipeline(out, smoke, seed)
    except DemoError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        sys.exit(1)
    console.print(f"[bold green]demo finished in {time.perf_counter() - start:.0f} s[/]: {out}/README.md")
