"""`sharelm-collector`: serve, migrate, export."""

from __future__ import annotations

import atexit
import importlib.util
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
    jsonl = format == "jsonl" or (format is None and ".jsonl" in out.name.lower())
    if not jsonl and importlib.util.find_spec("datasets") is None:  # parquet and datasets dirs: the extra
        typer.echo('error: parquet and dataset exports need the [export] extra: pip install '
                   '"sharelm-collector[export]" (from a checkout: "./services/collector[export]"); '
                   "a .jsonl export needs nothing more", err=True)
        raise typer.Exit(2)
    from sharelm import Conversation
    from sharelm.export import save_dataset
    from sharelm_collector import crud
    from sharelm_collector.core.db import Database

    db = Database(_settings())
    convs = (Conversation.model_validate_json(doc) for doc in crud.iter_documents(db.read_session))
    n = save_dataset(convs, out, format=format)
    db.dispose()
    typer.echo(f"exported {n} conversations to {out}")
