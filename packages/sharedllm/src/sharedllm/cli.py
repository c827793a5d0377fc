"""The `sharedllm` command line: training and evaluation add their commands (the efficiency benchmark is
`packages/sharedllm/benchmarks/run_efficiency.py`, outside the installed package)."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    help="SharedLLM: context window extension with multi-grained self-injection.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """SharedLLM tools."""


def _add_subcommands() -> None:
    """`sharedllm train` / `sharedllm eval` are the training and evaluation modules' own Typer apps (each
    module exposes `app`), added when present so this file needs no edits as they grow."""
    for module_name, command in (("sharedllm.training.cli", "train"), ("sharedllm.evaluation.cli", "eval")):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        app.add_typer(module.app, name=command)


_add_subcommands()

if __name__ == "__main__":
    app()
