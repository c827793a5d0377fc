"""CrossLM's benchmarks (not part of the installed library): `python packages/crosslm/benchmarks/run.py`.

controlled   every method over seeds and Dirichlet skews in the synthetic world (the issue's evidence)
chatterbot   the same methods on the real ChatterBot corpus, one seed
scale        time per round at 10 and 100 simulated clients
response     response mode in the rated-conversation world over seeds (win rate, reward models)
all          controlled + scale (what `make bench-crosslm` runs)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

sys.path.insert(0, str(Path(__file__).parent))  # the bench's own modules, next to this file

import controlled as controlled_suite  # noqa: E402
import others  # noqa: E402
import response_bench  # noqa: E402
import tables  # noqa: E402

from crosslm.overrides import parse_overrides  # noqa: E402

app = typer.Typer(help=__doc__, no_args_is_help=True)
OUT = typer.Option(Path("packages/crosslm/benchmarks/results"), help="results folder")


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def _floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x]


@app.command()
def controlled(
    out: Path = OUT,
    seeds: str = typer.Option("0,1,2,3,4"),
    alphas: str = typer.Option("0.5,0.1,5.0", help="in this order (alpha 0.5 holds the main goals)"),
    methods: str = typer.Option(",".join(controlled_suite.METHODS)),
    name: str = typer.Option("controlled", help="results subfolder"),
    set_: list[str] = typer.Option([], "--set", "-c", help="run-config override KEY=VALUE (ablations)"),
    topics: int = typer.Option(
        controlled_suite.TOPICS, min=2, max=8, help="latent topics (labels) of the world; use a new --name"
    ),
) -> None:
    """Standalone, FedAvg, KD, filtered KD, CrossLM and the centralised bound over seeds and alphas."""
    start = time.perf_counter()
    cells = controlled_suite.run_grid(
        out / name, _ints(seeds), _floats(alphas), tuple(methods.split(",")), parse_overrides(set_), topics
    )
    summary = tables.summarize(cells)
    summary["bench_wall_s"] = time.perf_counter() - start
    tables.write(summary, out / name)
    print(tables.markdown(summary))


@app.command()
def summarize(out: Path = OUT, name: str = typer.Option("controlled", help="results subfolder")) -> None:
    """Tables and plots from the cells already measured (no new runs), e.g. after a reduced bench."""
    import json

    cells = [json.loads(p.read_text()) for p in sorted((out / name / "cells").glob("*.json"))]
    summary = tables.summarize(cells)
    tables.write(summary, out / name)
    print(tables.markdown(summary))


@app.command()
def chatterbot(out: Path = OUT, clients: int = 4, rounds: int = 3, seed: int = 0) -> None:
    """The real ChatterBot corpus (topic task), imported through sharelm; one seed."""
    others.chatterbot(out / "chatterbot", clients, rounds, seed)


@app.command()
def scale(out: Path = OUT, sizes: str = "10,100", rounds: int = 2) -> None:
    """Time per round at 10 and 100 simulated clients: compute vs Flower/Ray overhead."""
    others.scale(out / "scale", tuple(_ints(sizes)), rounds)


@app.command()
def response(
    out: Path = OUT,
    seeds: str = typer.Option("0,1,2,3,4"),
    methods: str = typer.Option(",".join(response_bench.METHODS)),
    set_: list[str] = typer.Option([], "--set", "-c", help="run-config override KEY=VALUE"),
) -> None:
    """Response mode: CrossLM, Standalone and pooled reward models; the tuned LLM's win rate."""
    cells = response_bench.run_seeds(
        out / "response", _ints(seeds), tuple(methods.split(",")), parse_overrides(set_)
    )
    table = response_bench.summarize(cells)
    (out / "response" / "results.md").write_text(table + "\n")
    print(table)


@app.command(name="all")
def all_(out: Path = OUT, seeds: str = typer.Option("0,1,2,3,4")) -> None:
    """controlled (all seeds, alphas 0.1/0.5/5) then scale."""
    methods = ",".join(controlled_suite.METHODS)
    controlled(out, seeds, "0.5,0.1,5.0", methods, "controlled", [], controlled_suite.TOPICS)
    scale(out, "10,100", 2)


if __name__ == "__main__":
    app()
