"""`crosslm`: run CrossLM through Flower on Ray, build tiny models, benchmark against the baselines."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from crosslm.config import ConfigError, RunConfig

app = typer.Typer(
    help="CrossLM: a server LLM and client SLMs enhance each other across silos (Flower on Ray).",
    no_args_is_help=True,
)
console = Console()


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override {pair!r} is not KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value  # a bare string
    return out


def build_config(config: Path | None, overrides: list[str]) -> RunConfig:
    from crosslm.runner import default_config, load_config_file

    values = default_config()
    if config is not None:
        values.update(load_config_file(config))
    values.update(_parse_overrides(overrides))
    cfg = RunConfig.from_mapping(values)
    cfg.require_models()
    for key in ("data_path", "out_dir", "general_text", "audit_dir"):  # the Flower processes run elsewhere
        if value := getattr(cfg, key):
            cfg = cfg.replace(**{key: str(Path(value).expanduser().resolve())})
    if not Path(cfg.data_path).exists() and cfg.task != "hf":
        raise ConfigError(f"run-config 'data-path': {cfg.data_path} does not exist")
    return cfg


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


@app.command()
def run(
    config: Path = typer.Argument(None, help="TOML file of run-config keys (see the app's pyproject.toml)"),
    set_: list[str] = typer.Option([], "--set", "-c", help="override a run-config key: KEY=VALUE"),
    clients: int = typer.Option(3, help="simulated client nodes (Flower SuperNodes)"),
    client_cpus: float = typer.Option(1.0, help="CPUs Ray reserves per ClientApp"),
    ray_address: str = typer.Option(None, help="attach to this existing Ray cluster (default: RAY_ADDRESS)"),
    ray_cpus: int = typer.Option(None, help="CPUs of the local Ray instance (default: all)"),
) -> None:
    """Run CrossLM (or a baseline: method=...) with `flwr run` on the Ray simulation backend."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from crosslm.models.tiny import materialize
    from crosslm.runner import RunFailed
    from crosslm.runner import run as run_flower

    try:
        cfg = build_config(config, set_)
        if clients < cfg.min_clients:
            raise ConfigError(f"--clients {clients} is below run-config 'min-clients' = {cfg.min_clients}")
        cfg = materialize(cfg, Path(cfg.out_dir) / "models", progress=True)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task(f"{cfg.method}: rounds", total=cfg.num_rounds)

        def on_round(rec: dict) -> None:
            llm = (
                f", LLM acc {rec['llm_task_accuracy']:.3f}, ppl {rec['llm_general_ppl']:.2f}"
                if "llm_task_accuracy" in rec
                else ""
            )
            progress.console.print(
                f"round {rec['round']}: SLM mean acc {rec['slm_mean_accuracy']:.3f}{llm}, "
                f"clients {rec['num_ok']}/{rec['num_sampled']}, {rec['time']['round_s']:.1f} s"
            )
            progress.update(bar, completed=rec["round"])

        try:
            run_flower(cfg, clients, client_cpus, ray_address, ray_cpus, on_round=on_round)
        except RunFailed as exc:
            _fail(exc)
    console.print(f"done: metrics, SLMs, LLM adapter and report under {cfg.out_dir}")


@app.command()
def tiny(
    data: Path = typer.Argument(..., help="a ShareLM collection export (save_dataset dir or JSONL)"),
    out: Path = typer.Option(Path("models/tiny"), help="where the models go"),
    task: str = typer.Option("topic"),
    task_field: str = typer.Option("topic"),
    llm: str = typer.Option("llama", help="tiny causal LM family: gpt2 | llama"),
    slms: str = typer.Option("bert,gpt2", help="tiny classifier families: bert, distilbert, gpt2"),
) -> None:
    """Build tiny models (tokenizers trained on the data, LLM pretrained on it) for a CPU run."""
    from crosslm.models.tiny import materialize

    try:
        cfg = RunConfig.from_mapping(
            {
                "data-path": str(data),
                "task": task,
                "task-field": task_field,
                "llm": f"tiny:{llm}",
                "slms": ",".join(f"tiny:{s}" for s in slms.split(",")),
            }
        )
        cfg = materialize(cfg, out, progress=True)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    console.print(f"llm = {cfg.llm!r}\nslms = {cfg.slms!r}\ngeneral-text = {cfg.general_text!r}")


@app.command()
def report(out_dir: Path = typer.Argument(..., help="a run's out-dir")) -> None:
    """Redraw a finished run's report (report.png, report.md)."""
    from crosslm.report import write_report

    if not (out_dir / "metrics.json").exists():
        _fail(FileNotFoundError(f"{out_dir}/metrics.json not found: is this a finished run's out-dir?"))
    console.print(f"wrote {write_report(out_dir)}")


def _register_bench() -> None:
    from crosslm.bench.cli import bench_app

    app.add_typer(bench_app, name="bench")


_register_bench()
