"""`crosslm bench ...`"""

from __future__ import annotations

import typer

bench_app = typer.Typer(
    help="Benchmarks: Standalone, FedAvg, data-free KD and CrossLM side by side.", no_args_is_help=True
)
