"""`sharelm-collector`: serve, migrate, export, forget-plugin-user."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import typer

from sharelm_collector import __version__

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
    from sqlalchemy.engine import make_url

    revision = "not migrated here: --no-migrate"
    if migrate_first:
        from sharelm_collector.core.db import Database
        from sharelm_collector.core.migrate import current_revision, upgrade

        db = Database(settings)
        upgrade(db.engine)
        revision = f"at revision {current_revision(db.engine)}"
        db.dispose()
    import uvicorn

    # X-Forwarded-For is believed only from the proxies named in FORWARDED_ALLOW_IPS; with none named,
    # uvicorn must not read it at all (it would fall back to trusting 127.0.0.1).
    proxies = settings.forwarded_allow_ips.strip()
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    operator = settings.operator_token is not None and bool(settings.operator_token.get_secret_value())
    plural = "s" if settings.workers != 1 else ""
    typer.echo(
        f"sharelm-collector {__version__}: listening on http://{settings.host}:{settings.port} with "
        f"{settings.workers} worker{plural}; database {database} ({revision}); X-Forwarded-For trusted from "
        f"{proxies or 'no proxy'}; GET /v1/export {'enabled' if operator else 'disabled (no operator token)'}"
    )
    sys.stdout.flush()
    uvicorn.run(
        "sharelm_collector.main:app", host=settings.host, port=settings.port, workers=settings.workers,
        log_level=log_level, proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
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
    from sharelm_collector.core.security import plugin_owner, plugin_user_id

    if plugin_user_id(user_id) is None:
        raise typer.BadParameter("uploads without a user id are linked neither to one another nor to anyone: "
                                 "a blank id finds nothing", param_hint="USER_ID")
    db = Database(_settings())
    with db.session() as session:
        n = crud.delete_owner(session, plugin_owner(user_id))
        session.commit()
    db.checkpoint()  # SQLite: the deleted text leaves the WAL too
    db.dispose()
    typer.echo(f"deleted {n} conversations of plugin user {user_id!r}")


def _format_by_name(out: Path) -> str:
    """save_dataset's choice by file name (made here: the partial file's name must not change it)."""
    name = out.name.lower()
    return "parquet" if name.endswith(".parquet") else "jsonl" if ".jsonl" in name else "arrow"


@app.command()
def export(
    out: Path = typer.Argument(..., help="Output: a dataset directory, a .parquet or a .jsonl file"),
    format: str = typer.Option(None, help="arrow (save_to_disk dir), parquet or jsonl; default: by name"),
) -> None:
    """Write every stored conversation as a Hugging Face dataset in the ShareLM schema (sharelm.export).
    A stored row that fails the schema is skipped and reported (row id and reason, then a count), never the
    end of the export; the output appears only once complete (written next to it, then renamed)."""
    if format not in (None, "arrow", "parquet", "jsonl"):
        raise typer.BadParameter(f"{format!r}: use arrow, parquet or jsonl", param_hint="--format")
    format = format or _format_by_name(out)
    if format != "jsonl" and importlib.util.find_spec("datasets") is None:  # parquet, datasets: the extra
        typer.echo('error: parquet and dataset exports need the [export] extra: pip install '
                   '"sharelm-collector[export]" (from a checkout: "./services/collector[export]"); '
                   "a .jsonl export needs nothing more", err=True)
        raise typer.Exit(2)
    from pydantic import ValidationError

    from sharelm import Conversation
    from sharelm.export import save_dataset
    from sharelm_collector import crud
    from sharelm_collector.core.db import Database

    db = Database(_settings())
    skipped: list[int] = []

    def conversations():
        for row_id, document in crud.iter_rows(db.read_session):
            try:
                yield Conversation.model_validate_json(document)
            except ValidationError as exc:
                skipped.append(row_id)
                first = exc.errors(include_url=False)[0]
                where = ".".join(map(str, first["loc"]))
                typer.echo(f"skipped row {row_id}: it fails the schema: {first['msg']} at {where}", err=True)

    out = out.absolute()
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        n = save_dataset(conversations(), partial, format=format)
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        os.replace(partial, out)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()
        db.dispose()
    note = f"; skipped {len(skipped)} stored rows that fail the schema (listed above)" if skipped else ""
    typer.echo(f"exported {n} conversations to {out}{note}")
