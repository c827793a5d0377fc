"""`sharelm-collector`: serve, migrate, export."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import typer

app = typer.Typer(help="The ShareLM collector service.", no_args_is_help=True, add_completion=False)


def _settings(**overrides):
    from sharelm_collector.core.config import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic) at DATABASE_URL."""
    from sharelm_collector.core.db import Database
    from sharelm_collector.core.migrate import current_revision, upgrade

    db = Database(_settings())
    upgrade(db.engine)
    typer.echo(f"database {db.engine.url.render_as_string()} at revision {current_revision(db.engine)}")
    db.dispose()


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default from settings: 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default from settings: 8000)"),
    workers: int = typer.Option(None, min=1, help="uvicorn worker processes (default from settings: 2)"),
    migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Upgrade the schema first"),
    log_level: str = typer.Option("warning"),
) -> None:
    """Run the API with uvicorn."""
    settings = _settings(host=host, port=port, workers=workers)
    # Workers read their settings from the environment: pass the effective values down.
    os.environ["SHARELM_COLLECTOR_WORKERS"] = str(settings.workers)
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Must be set before any worker imports prometheus_client (this process has not).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir = tempfile.mkdtemp(prefix="sharelm-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, True)
    if migrate_first:
        from sharelm_collector.core.db import Database
        from sharelm_collector.core.migrate import upgrade

        db = Database(settings)
        upgrade(db.engine)
        db.dispose()
    import uvicorn

    uvicorn.run(
        "sharelm_collector.main:app", host=settings.host, port=settings.port, workers=settings.workers,
        log_level=log_level, proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,
    )


@app.command("forget-plugin-user")
def forget_plugin_user(
    user_id: str = typer.Argument(..., help="The plugin's user id, as the user quotes it from the extension"),
) -> None:
    """Delete every anonymous plugin upload of one plugin user (uploads sent without a token cannot be erased
    through the API: this is the operator's side of the public plugin's removal request)."""
    from sharelm_collector import crud
    from sharelm_collector.core.db import Database
    from sharelm_collector.core.security import plugin_owner

    db = Database(_settings())
    with db.session() as session:
        n = crud.delete_owner(session, plugin_owner(user_id))
        session.commit()
    db.dispose()
    typer.echo(f"deleted {n} conversations of plugin user {user_id!r}")


@app.command()
def export(
    out: Path = typer.Argument(..., help="Output: a dataset directory, a .parquet or a .jsonl file"),
    format: str = typer.Option(None, help="arrow (save_to_disk dir), parquet or jsonl; default: by name"),
) -> None:
    """Write every stored conversation as a Hugging Face dataset in the ShareLM schema (sharelm.export)."""
    if format not in (None, "arrow", "parquet", "jsonl"):
        raise typer.BadParameter(f"{format!r}: use arrow, parquet or jsonl", param_hint="--format")
    from sharelm import Conversation
    from sharelm.export import save_dataset
    from sharelm_collector import crud
    from sharelm_collector.core.db import Database

    db = Database(_settings())
    convs = (Conversation.model_validate_json(doc) for doc in crud.iter_documents(db.read_session))
    n = save_dataset(convs, out, format=format)
    db.dispose()
    typer.echo(f"exported {n} conversations to {out}")


@app.command()
def bench(
    backends: str = typer.Option("sqlite,postgres", help="Comma-separated: sqlite, postgres"),
    clients: str = typer.Option("1,16,64", help="Comma-separated concurrency levels"),
    seconds: float = typer.Option(5.0, min=1.0, help="Measured seconds per level"),
    warmup: float = typer.Option(1.0, min=0.0),
    workers: int = typer.Option(2, min=1, help="uvicorn workers"),
    route: str = typer.Option("v1", help="v1 (POST /v1/conversations, token) or plugin (POST /api/endpoint)"),
    out: Path = typer.Option(Path("bench-results/collector"), help="Where results, plot and profiles go"),
    profile: bool = typer.Option(True, "--profile/--no-profile", help="py-spy profile at the top level"),
) -> None:
    """Upload throughput and latency from a separate load process (servers and PostgreSQL started here)."""
    from sharelm_collector.bench.run import main

    names = [b.strip() for b in backends.split(",") if b.strip()]
    for b in names:
        if b not in ("sqlite", "postgres"):
            raise typer.BadParameter(f"{b!r}: use sqlite or postgres", param_hint="--backends")
    if route not in ("v1", "plugin"):
        raise typer.BadParameter(f"{route!r}: use v1 or plugin", param_hint="--route")
    try:
        levels = [int(c) for c in clients.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{clients!r}: comma-separated integers", param_hint="--clients") from None
    main(backends=names, clients=levels, seconds=seconds, warmup=warmup, workers=workers, route=route,
         out=out, with_profile=profile)
