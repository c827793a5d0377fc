"""`crosslm`: run CrossLM through Flower on Ray, write client silos, build tiny models, redraw reports."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from crosslm.config import ConfigError, RunConfig
from crosslm.overrides import load_config_file, parse_overrides

app = typer.Typer(
    help="CrossLM: a server LLM and client SLMs enhance each other across silos (Flower on Ray).",
    no_args_is_help=True,
)
console = Console()


def build_config(config: Path | None, overrides: list[str], require_models: bool = True) -> RunConfig:
    from crosslm.config import defaults

    values = dict(defaults())
    if config is not None:
        values.update(load_config_file(config))
    values.update(parse_overrides(overrides))
    cfg = RunConfig.from_mapping(values)
    if require_models:
        cfg.require_models()
    for key in (
        "data_path",
        "out_dir",
        "general_text",
        "audit_dir",
        "silo_dir",
    ):  # the Flower processes run elsewhere
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
    json_events: bool = typer.Option(False, "--json", help="print the progress events as JSON lines"),
) -> None:
    """Run CrossLM (or a baseline: method=...) with `flwr run` on the Ray simulation backend."""
    from crosslm.data import plan_federation
    from crosslm.models.tiny import materialize
    from crosslm.progress import EventPrinter, JsonEvents
    from crosslm.runner import RunFailed
    from crosslm.runner import run as run_flower

    try:
        cfg = build_config(config, set_)
        if clients < cfg.min_clients:
            raise ConfigError(f"--clients {clients} is below run-config 'min-clients' = {cfg.min_clients}")
        plan_federation(cfg, clients)  # too little data stops here, before any model is built
        cfg = materialize(cfg, Path(cfg.out_dir) / "models", progress=not json_events)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    with JsonEvents() if json_events else EventPrinter(console, cfg.method, cfg.num_rounds) as show:
        try:
            run_flower(cfg, clients, client_cpus, ray_address, ray_cpus, on_event=show)
        except RunFailed as exc:
            _fail(exc)
    if not json_events:
        console.print(f"done: metrics, SLMs, LLM adapter and report under {cfg.out_dir}")


@app.command()
def silos(
    config: Path = typer.Argument(None, help="TOML file of run-config keys"),
    set_: list[str] = typer.Option([], "--set", "-c", help="override a run-config key: KEY=VALUE"),
    clients: int = typer.Option(3, help="number of clients"),
    out: Path = typer.Option(Path("silos"), help="one file per client goes here"),
) -> None:
    """Write each client's silo (for a bare `flwr run`: pass `-c silo-dir=OUT`); `crosslm run` does it."""
    from crosslm.data import write_silos

    try:
        fed = write_silos(build_config(config, set_, require_models=False), clients, out)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        _fail(exc)
    sizes = ", ".join(f"{len(s.train) + len(s.val)}/{len(s.test)}" for s in fed.silos)
    console.print(json.dumps({"silo_dir": str(out.resolve()), "train/test per client": sizes}))


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
