"""`crosslm bench controlled|chatterbot|scale|all`: rerunnable benchmarks (results, tables and PNGs)."""

from __future__ import annotations

from pathlib import Path

import typer

bench_app = typer.Typer(
    help="Benchmarks: Standalone, FedAvg, data-free KD and CrossLM side by side.", no_args_is_help=True
)
OUT = typer.Option(Path("bench-results/crosslm"), help="results folder")


@bench_app.command()
def controlled(
    out: Path = OUT,
    clients: int = 6,
    rounds: int = 4,
    seed: int = 0,
    name: str = typer.Option("controlled", help="results subfolder"),
    methods: str = typer.Option("standalone,fedavg,kd,crosslm"),
    set_: list[str] = typer.Option([], "--set", "-c", help="run-config override KEY=VALUE (ablations)"),
    data: Path = typer.Option(None, help="reuse this world's data and models (default: OUT/NAME/data)"),
) -> None:
    """The controlled synthetic-world benchmark (2 CPU cores, minutes)."""
    from crosslm.bench.suites import controlled as suite
    from crosslm.cli import _parse_overrides

    suite(out / name, clients, rounds, seed, _parse_overrides(set_), tuple(methods.split(",")), data)


@bench_app.command()
def chatterbot(out: Path = OUT, clients: int = 4, rounds: int = 3, seed: int = 0) -> None:
    """The same pipeline on the real ChatterBot corpus (topic task), imported through sharelm."""
    from crosslm.bench.suites import chatterbot as suite

    suite(out / "chatterbot", clients, rounds, seed)


@bench_app.command()
def scale(out: Path = OUT, sizes: str = "10,100", rounds: int = 2) -> None:
    """Time per round at 10 and 100 simulated clients: compute vs Flower/Ray overhead."""
    from crosslm.bench.suites import scale as suite

    suite(out / "scale", tuple(int(s) for s in sizes.split(",")), rounds)


@bench_app.command(name="all")
def all_(out: Path = OUT) -> None:
    """controlled, chatterbot and scale, one after the other."""
    from crosslm.bench import suites

    suites.controlled(out / "controlled")
    replay = {"regularizer": "lora+replay"}
    suites.controlled(
        out / "controlled-replay", methods=("crosslm",), overrides=replay, data=out / "controlled" / "data"
    )
    suites.chatterbot(out / "chatterbot")
    suites.scale(out / "scale")
