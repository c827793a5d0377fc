"""`sharelm`: import, build, stats, export and schema, on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from sharelm.io import MalformedRowError, validation_reason

app = typer.Typer(
    help="Build ShareLM collections: import sources, redact, dedup, tag, export.", no_args_is_help=True
)
err = Console(stderr=True)
out = Console()

Inputs = Annotated[list[Path], typer.Argument(help="Input files (format detected from their rows)")]
FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help="Input format instead of detection")]


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)


def progress(label: str) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn(f"{label} [bold]{{task.completed:,}}[/bold] conversations"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def print_errors(errors: list, limit: int = 10) -> None:
    for e in errors[:limit]:
        err.print(f"  [yellow]skipped[/yellow] {escape(str(e))}")
    if len(errors) > limit:
        err.print(f"  ... and {len(errors) - limit} more")


def check_inputs(inputs: list[Path]) -> None:
    for path in inputs:
        if not path.is_file():
            fail(f"input file not found: {path}")


@app.command("import")
def import_(
    inputs: Inputs,
    output: Annotated[Path, typer.Option("--output", "-o", help="Our JSONL (.jsonl or .jsonl.gz)")],
    format: FormatOpt = None,
) -> None:
    """Convert files of any supported source into our JSONL; malformed rows are reported and skipped."""
    from sharelm.io import write_jsonl
    from sharelm.sources import ImportReport, UnknownFormatError, import_file

    check_inputs(inputs)
    report = ImportReport()
    try:
        with progress("importing") as bar:
            task = bar.add_task("import")

            def stream():
                for path in inputs:
                    for conv in import_file(path, format=format, report=report):
                        bar.advance(task)
                        yield conv

            write_jsonl(stream(), output)
    except UnknownFormatError as exc:
        fail(str(exc))
    print_errors(report.errors)
    for path, fmt in report.formats.items():
        err.print(f"{path}: {fmt}")
    out.print(f"{report.summary()} -> {output}")


@app.command()
def build(
    inputs: Inputs,
    output: Annotated[Path, typer.Option("--output", "-o", help=".jsonl[.gz], .parquet or a datasets dir")],
    format: FormatOpt = None,
    redact: Annotated[bool, typer.Option(help="Redact PII")] = True,
    dedup: Annotated[bool, typer.Option(help="Drop exact duplicates")] = True,
    near_dup: Annotated[bool, typer.Option(help="Drop near duplicates (MinHash LSH)")] = True,
    language: Annotated[bool, typer.Option(help="Tag languages (lingua, offline)")] = True,
    threshold: Annotated[float, typer.Option(help="Near-duplicate Jaccard threshold")] = 0.8,
    window: Annotated[int, typer.Option(help="Near-dup index size bound (conversations)")] = 100_000,
    drops: Annotated[Path | None, typer.Option(help="JSONL log of dropped duplicates and why")] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the build report as JSON")
    ] = None,
) -> None:
    """Merge sources into one collection, streamed: validate, redact, dedup, tag language."""
    from sharelm.pipeline import BuildOptions
    from sharelm.pipeline import build as run_build
    from sharelm.sources import UnknownFormatError

    check_inputs(inputs)
    if not 0 < threshold <= 1:
        fail(f"--threshold must be in (0, 1], got {threshold}")
    options = BuildOptions(
        redact=redact, dedup=dedup, near_dup=near_dup, language=language, threshold=threshold,
        window=window, format=format,
    )  # fmt: skip
    try:
        with progress("building") as bar:
            task = bar.add_task("build")
            report = run_build(
                list(inputs),
                output,
                options,
                drops_path=drops,
                on_progress=lambda n: bar.update(task, completed=n),
            )
            bar.update(task, completed=report.written)
    except UnknownFormatError as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:  # dedup / language tags / parquet live in extras
        extra = "hf" if exc.name in ("datasets", "pyarrow") else "clean"
        fail(f"{exc.name} is missing: pip install 'sharelm-collection[{extra}]' (or turn that stage off)")
    print_errors(report.imported.errors)
    summary = report.to_dict()
    if report_path:
        report_path.write_text(json.dumps(summary, indent=2))
    rate = report.imported.conversations / report.seconds if report.seconds else 0.0
    out.print(
        f"{report.imported.summary()}; {report.redacted_conversations} redacted; "
        f"dropped {report.dedup.get('exact', 0)} exact + {report.dedup.get('near', 0)} near duplicates; "
        f"wrote {report.written} -> {output} ({rate:,.0f} conv/s, peak {report.peak_rss_mb:.0f} MB)"
    )


def _load(path: Path, format: str | None):
    """Our exports (load_conversations) or, for any other source file, the adapters."""
    from sharelm.export import load_conversations
    from sharelm.sources import detect_format, import_file

    if not path.exists():
        fail(f"not found: {path}")
    if path.is_file() and path.suffix != ".parquet" and (format or detect_format(path) != "sharelm"):
        return import_file(path, format=format)
    return load_conversations(path)


@app.command()
def stats(
    input: Annotated[
        Path, typer.Argument(help="A collection (JSONL, parquet, datasets dir) or a source file")
    ],
    plot: Annotated[Path | None, typer.Option(help="PNG plot of the counts")] = Path("sharelm-stats.png"),
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the counts as JSON")] = None,
    format: FormatOpt = None,
) -> None:
    """Counts by source, model, language and rating, with a PNG plot."""
    from sharelm.sources import UnknownFormatError
    from sharelm.stats import CollectionStats
    from sharelm.stats import plot as plot_stats

    s = CollectionStats()
    try:
        with progress("reading") as bar:
            task = bar.add_task("stats")
            for conv in _load(input, format):
                s.add(conv)
                bar.advance(task)
    except (UnknownFormatError, MalformedRowError) as exc:
        fail(str(exc))
    data = s.to_dict(top=20)
    if json_out:
        json_out.write_text(json.dumps(data, indent=2))
    out.print_json(json.dumps(data))
    if plot:
        out.print(f"plot -> {plot_stats(s, plot)}")


@app.command()
def export(
    input: Annotated[
        Path, typer.Argument(help="A collection (JSONL, parquet, datasets dir) or a source file")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write")] = None,
    to: Annotated[str, typer.Option(help="parquet | arrow (datasets save_to_disk dir) | jsonl")] = "parquet",
    push_to_hub: Annotated[str | None, typer.Option(help="Also push to this Hub repo id")] = None,
    private: Annotated[bool, typer.Option(help="Private Hub dataset")] = True,
    format: FormatOpt = None,
) -> None:
    """Export to Hugging Face datasets (explicit Features), parquet or JSONL; optionally push to the Hub."""
    from sharelm.export import push_to_hub as push
    from sharelm.export import save_dataset

    if to not in ("parquet", "arrow", "jsonl"):
        fail(f"--to must be parquet, arrow or jsonl, got {to!r}")
    if output is None and push_to_hub is None:
        fail("give --output and/or --push-to-hub")
    if not input.exists():
        fail(f"not found: {input}")
    try:
        if output is not None:
            with progress("exporting") as bar:
                task = bar.add_task("export")

                def stream():
                    for conv in _load(input, format):
                        bar.advance(task)
                        yield conv

                n = save_dataset(stream(), output, format=to)
            out.print(f"exported {n} conversations -> {output}")
        if push_to_hub is not None:
            try:
                info = push(list(_load(input, format)), push_to_hub, private=private)
            except (OSError, ValueError) as exc:  # offline, no token, no such repo...
                fail(f"push to {push_to_hub} failed: {exc}")
            out.print(f"pushed to {push_to_hub}: {info}")
    except (MalformedRowError, ValidationError) as exc:
        fail(validation_reason(exc) if isinstance(exc, ValidationError) else str(exc))


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout")
    ] = None,
    rules: Annotated[bool, typer.Option(help="Print the redaction rules file instead")] = False,
) -> None:
    """The Conversation JSON Schema (or the redaction rules) for other languages."""
    from sharelm.redact import RULES_PATH
    from sharelm.schema import conversation_json_schema

    text = RULES_PATH.read_text() if rules else json.dumps(conversation_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text)
        err.print(f"-> {output}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    app()
