"""`python -m demo`: collector -> export -> CrossLM rounds -> long chat -> contribution, then a report.

Every service is started for real on loopback from the installed console scripts and stopped at the end.
`--smoke` runs the same pipeline at the smallest size (the end-to-end test uses it).
"""

from __future__ import annotations

import json
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
from demo.steps.collect import collect
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
        kept = stored.kept_ids | {u["conversation_id"] for u in _plugin_uploads()}
        snapshot = pipe.step(
            "export",
            "Operator: export a collection snapshot (Hugging Face dataset)",
            export_snapshot,
            collector.env,
            out / "collection",
            kept,
            stored.deleted_ids,
        )
    del snapshot
    report = {"smoke": smoke, "seed": seed, "timings_s": pipe.timings, **pipe.results}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=sorted))
    write_report(out, report)
    return report


def _plugin_uploads():
    from demo.steps.collect import PLUGIN_UPLOADS

    return PLUGIN_UPLOADS


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
