"""What `crosslm run` shows of the ServerApp's events: a round bar, a bar with a total for the LLM's
evaluation, one line a round, warnings (or, with --json, the events themselves, one JSON line each)."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def round_line(rec: dict) -> str:
    llm = (
        f", LLM acc {rec['llm_task_accuracy']:.3f}, ppl {rec['llm_general_ppl']:.2f}"
        if "llm_task_accuracy" in rec
        else ""
    )
    if "mean_quality" in rec and "llm_task_accuracy" not in rec:  # response mode: the answers' mean score
        llm = f", answers' mean score {rec['mean_quality']:.3f}, ppl {rec['llm_general_ppl']:.2f}"
    accepted = f", accepted {rec['accepted']}/{rec['generated']}" if "accepted" in rec else ""
    return (
        f"round {rec['round']}: SLM mean acc {rec['slm_mean_accuracy']:.3f}{llm}{accepted}, "
        f"clients {rec['num_ok']}/{rec['num_sampled']}, {rec['time']['round_s']:.1f} s"
    )


class EventPrinter:
    def __init__(self, console: Console, method: str, num_rounds: int):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.rounds = self.progress.add_task(f"{method}: rounds", total=num_rounds)
        self.steps: dict[str, int] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: dict) -> None:
        kind, out = event.get("kind"), self.progress.console
        if kind == "setup":
            self.progress.update(self.rounds, completed=event["done"])
        elif kind == "progress":
            task = self.steps.get(event["what"])
            if task is None:
                task = self.steps[event["what"]] = self.progress.add_task(event["what"], total=event["total"])
            self.progress.update(task, completed=event["done"], total=event["total"])
            if event["done"] >= event["total"]:  # one bar per pass: the next pass starts it afresh
                self.progress.remove_task(self.steps.pop(event["what"]))
        elif kind == "round":
            out.print(round_line(event["record"]), soft_wrap=True)
            self.progress.update(self.rounds, completed=event["record"]["round"])
        elif kind == "warning":
            out.print(f"[yellow]warning:[/yellow] {event['message']}", soft_wrap=True)


class JsonEvents:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def __call__(self, event: dict) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
