"""`sharelm`: import, build, stats, export and schema, on the command line.

Exit codes: 0 done; 1 ran but imported nothing (every row malformed or the wrong `--format`); 2 bad
arguments, a missing input or extra, or an unreadable file.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sharelm.io import MalformedRowError, input_size, validation_reason

if TYPE_CHECKING:
    from sharelm.schema import Conversation
    from sharelm.sources import ImportReport

app = typer.Typer(
    help="Build ShareLM collections: import sources, redact, dedup, tag, export.", no_args_is_help=True
)
err = Console(stderr=True, soft_wrap=True)  # a message stays one line: paths in it are never broken
out = Console(soft_wrap=True)

EXIT_NOTHING = 1
EXIT_USAGE = 2
EXTRAS = {"datasets": "hf", "pyarrow": "hf", "numpy": "clean", "datasketch": "clean", "lingua": "clean"}
EXTRAS["matplotlib"] = "plot"
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
DEFAULT_PLOT = Path("sharelm-stats.png")
NAMES = {
    "jsonl": "NAME.jsonl or NAME.jsonl.gz",
    "parquet": "NAME.parquet",
    "arrow": "a name without a suffix",
}
OUTPUT_HELP = ".jsonl, .jsonl.gz, .parquet, or a datasets dir (a name without a suffix)"

Inputs = Annotated[list[Path], typer.Argument(help="Input files (format detected from their rows)")]
FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help="Input format instead of detection")]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def install_hint(extra: str) -> str:
    """The package is not on an index yet: the checkout's path first, the name for when it is."""
    return (
        f'pip install "./packages/collection[{extra}]" in a checkout of the repository '
        f'(or pip install "sharelm-collection[{extra}]" where it comes from a package index)'
    )


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(modules: Iterable[str], what: str, instead: str) -> None:
    """Stop before any work when a stage's extra is not installed, saying how to get it or skip it."""
    missing = [m for m in modules if not have(m)]
    if missing:
        extra = EXTRAS[missing[0]]
        needs = " and ".join(missing)
        fail(f"{what} needs {needs} (the [{extra}] extra): {install_hint(extra)}; or {instead}")


def missing_module(name: str | None) -> str:
    extra = EXTRAS.get(name or "")
    return f"{name} is missing: " + (install_hint(extra) if extra else f"pip install {name}")


class InputProgress:
    """A bar over the bytes of the inputs (their sizes are known up front), with a conversation count."""

    def __init__(self, label: str, paths: Iterable[Path]):
        self.total = max(1, sum(input_size(p) for p in paths))
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn(label),
            BarColumn(),
            DownloadColumn(),
            TextColumn("[bold]{task.fields[n]:,}[/bold] conversations"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
        )
        self.task = self.bar.add_task(label, total=self.total, n=0)

    def __enter__(self) -> InputProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def show(self, bytes_read: int, n: int) -> None:
        self.bar.update(self.task, completed=min(bytes_read, self.total), n=n)

    def counted(self, convs: Iterable[Conversation], report: ImportReport) -> Iterator[Conversation]:
        n = 0
        for conv in convs:
            n += 1
            if n % 256 == 0:
                self.show(report.bytes_read, n)
            yield conv
        self.show(self.total, n)


def print_errors(errors: list, limit: int = 10) -> None:
    for e in errors[:limit]:
        err.print(f"  [yellow]skipped[/yellow] {escape(str(e))}")
    if len(errors) > limit:
        err.print(f"  ... and {len(errors) - limit} more")


def check_inputs(inputs: list[Path]) -> None:
    for path in inputs:
        if not path.exists():
            fail(f"input file not found: {path}")


def check_output(output: Path, to: str | None = None) -> str:
    """The output's format from its name (refusing names `save_dataset` would misread), and its extra."""
    from sharelm.export import ACCEPTED_OUTPUTS, output_format

    try:
        fmt = output_format(output)
    except ValueError as exc:
        fail(str(exc))
    if to is not None and to != fmt:
        fail(f"--to {to} does not match -o {output} (a name for {fmt}): use {NAMES[to]}, or leave --to out")
    if fmt == "arrow" and output.is_file():
        fail(f"{output} is a file: a datasets directory needs a new path or a directory ({ACCEPTED_OUTPUTS})")
    if fmt == "parquet":
        require(["pyarrow"], "a .parquet output", "write NAME.jsonl instead")
    elif fmt == "arrow":
        require(["datasets"], f"a datasets directory ({output}, no suffix)", "write NAME.jsonl instead")
    return fmt


def nothing_imported(report: ImportReport, format: str | None, inputs: list[Path]) -> NoReturn:
    """Say why a run imported nothing (the skipped rows were listed above) and exit 1."""
    if report.rows == 0:
        why = "the input holds no rows" if len(inputs) == 1 else "the inputs hold no rows"
    elif format:
        why = f"every one of the {report.rows} rows failed the chosen format {format!r}"
        why += "".join(f"; {p} looks like {fmt}" for p, fmt in _detected(inputs, format))
        why += " (leave out --format to detect it)"
    else:
        why = f"all {report.rows} rows were malformed"
    fail(f"nothing imported: {why}; nothing written", EXIT_NOTHING)


def _detected(inputs: list[Path], format: str) -> Iterator[tuple[Path, str]]:
    from sharelm.sources import UnknownFormatError, detect_format

    for path in inputs:
        try:
            fmt = detect_format(path)
        except (UnknownFormatError, OSError):
            continue
        if fmt != format:
            yield path, fmt


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
    if not output.name.lower().endswith((".jsonl", ".jsonl.gz")):
        fail(f"{output}: import writes our JSONL; name the output NAME.jsonl or NAME.jsonl.gz")
    report = ImportReport()
    try:
        with InputProgress("importing", inputs) as bar:
            convs = bar.counted(
                chain.from_iterable(import_file(p, format=format, report=report) for p in inputs), report
            )
            first = next(convs, None)
            if first is not None:  # write nothing when nothing came through
                write_jsonl(chain([first], convs), output)
    except UnknownFormatError as exc:
        fail(str(exc))
    print_errors(report.errors)
    if report.conversations == 0:
        nothing_imported(report, format, inputs)
    for path, fmt in report.formats.items():
        err.print(f"{path}: {fmt}")
    out.print(f"{report.summary()} -> {output}")


@app.command()
def build(
    inputs: Inputs,
    output: Annotated[Path, typer.Option("--output", "-o", help=OUTPUT_HELP)],
    format: FormatOpt = None,
    redact: Annotated[bool, typer.Option(help="Redact PII")] = True,
    dedup: Annotated[bool, typer.Option(help="Drop exact duplicates (no extra needed)")] = True,
    near_dup: Annotated[bool, typer.Option(help="Drop near duplicates (MinHash LSH, [clean] extra)")] = True,
    language: Annotated[bool, typer.Option(help="Tag languages (lingua, offline, [clean] extra)")] = True,
    threshold: Annotated[float, typer.Option(help="Near-duplicate Jaccard threshold")] = 0.8,
    window: Annotated[
        int, typer.Option(help="Conversations the dedup remembers: near-dup index, ids for duplicate_of")
    ] = 100_000,
    drops: Annotated[Path | None, typer.Option(help="JSONL log of dropped duplicates and why")] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write the build report as JSON")
    ] = None,
) -> None:
    """Merge sources into one collection, streamed: validate, redact, dedup, tag language."""
    from sharelm.pipeline import BuildOptions, BuildReport
    from sharelm.pipeline import build as run_build
    from sharelm.sources import UnknownFormatError

    check_inputs(inputs)
    check_output(output)
    if not 0 < threshold <= 1:
        fail(f"--threshold must be in (0, 1], got {threshold}")
    if dedup and near_dup:
        require(["numpy", "datasketch"], "near-duplicate detection", "pass --no-near-dup (exact dedup stays)")
    if language:
        require(["lingua"], "language tagging", "pass --no-language")
    options = BuildOptions(
        redact=redact, dedup=dedup, near_dup=near_dup, language=language, threshold=threshold,
        window=window, format=format,
    )  # fmt: skip
    report = BuildReport()
    try:
        with InputProgress("building", inputs) as bar:
            run_build(
                list(inputs),
                output,
                options,
                drops_path=drops,
                report=report,
                on_progress=lambda n: bar.show(report.imported.bytes_read, n),
            )
            bar.show(bar.total, report.written)
    except UnknownFormatError as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:  # an extra the checks above did not foresee
        fail(missing_module(exc.name))
    except OSError as exc:  # no space left, no permission...
        fail(f"cannot write {output}: {exc}")
    print_errors(report.imported.errors)
    if report.written == 0:
        nothing_imported(report.imported, format, inputs)
    summary = report.to_dict()
    if report_path:
        report_path.write_text(json.dumps(summary, indent=2))
    rate = report.imported.conversations / report.seconds if report.seconds else 0.0
    out.print(
        f"{report.imported.summary()}; {report.redacted_conversations} redacted; "
        f"dropped {report.dedup.get('exact', 0)} exact + {report.dedup.get('near', 0)} near duplicates; "
        f"wrote {report.written} -> {output} ({rate:,.0f} conv/s, peak {report.peak_rss_mb:.0f} MB)"
    )


def _load(path: Path, format: str | None, report: ImportReport) -> Iterator[Conversation]:
    """Our exports (load_conversations) or, for any other source file, the adapters; `report` counts
    (adapters) and follows the bytes read (both)."""
    from sharelm.export import load_conversations
    from sharelm.sources import detect_format, import_file

    if not path.exists():
        fail(f"not found: {path}")
    if path.is_file() and path.suffix != ".parquet" and (format or detect_format(path) != "sharelm"):
        return import_file(path, format=format, report=report)

    def on_bytes(n: int) -> None:
        report.bytes_read = n

    return load_conversations(path, on_bytes)


def _plot_path(plot: Path | None, no_plot: bool) -> Path | None:
    """Where to plot: --plot as given (checked), the default when matplotlib is there, else nowhere."""
    if no_plot:
        if plot is not None:
            fail("--plot and --no-plot contradict each other")
        return None
    if plot is None:
        return DEFAULT_PLOT if have("matplotlib") else None
    if plot.name == "" or plot.suffix.lower() not in PLOT_SUFFIXES:
        suffixes = ", ".join(PLOT_SUFFIXES)
        given = "an empty name" if plot.name == "" else repr(str(plot))
        fail(f"--plot needs a file name ending in {suffixes} (or --no-plot for none), got {given}")
    require(["matplotlib"], "--plot", "pass --no-plot")
    return plot


@app.command()
def stats(
    input: Annotated[
        Path, typer.Argument(help="A collection (JSONL, parquet, datasets dir) or a source file")
    ],
    plot: Annotated[
        Path | None,
        typer.Option(help=f"Plot the counts to this .png, .svg or .pdf [default: {DEFAULT_PLOT}]"),
    ] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Print the counts only")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the counts as JSON")] = None,
    format: FormatOpt = None,
) -> None:
    """Counts by source, model, language and rating (JSON on stdout), with a plot."""
    from sharelm.sources import ImportReport, UnknownFormatError
    from sharelm.stats import CollectionStats
    from sharelm.stats import plot as plot_stats

    plot_path = _plot_path(plot, no_plot)
    s, report = CollectionStats(), ImportReport()
    try:
        with InputProgress("reading", [input]) as bar:
            for conv in bar.counted(_load(input, format, report), report):
                s.add(conv)
    except (UnknownFormatError, MalformedRowError) as exc:
        fail(str(exc))
    print_errors(report.errors)
    if s.conversations == 0:
        nothing_imported(report, format, [input])
    data = s.to_dict(top=20)
    if json_out:
        json_out.write_text(json.dumps(data, indent=2))
    out.print_json(json.dumps(data))
    if plot_path is not None:
        err.print(f"plot -> {plot_stats(s, plot_path)}")
    elif not no_plot:
        err.print(escape(f"no plot: it needs matplotlib (the [plot] extra): {install_hint('plot')}"))
        err.print("(--no-plot: counts only, without this note)")


@app.command()
def export(
    input: Annotated[
        Path, typer.Argument(help="A collection (JSONL, parquet, datasets dir) or a source file")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)] = None,
    to: Annotated[
        str | None, typer.Option(help="parquet | arrow (datasets dir) | jsonl; default: from -o's suffix")
    ] = None,
    push_to_hub: Annotated[str | None, typer.Option(help="Also push to this Hub repo id")] = None,
    private: Annotated[bool, typer.Option(help="Private Hub dataset")] = True,
    format: FormatOpt = None,
) -> None:
    """Export to Hugging Face datasets (explicit Features), parquet or JSONL; optionally push to the Hub."""
    from sharelm.export import push_to_hub as push
    from sharelm.export import save_dataset
    from sharelm.sources import ImportReport, UnknownFormatError

    if to is not None and to not in ("parquet", "arrow", "jsonl"):
        fail(f"--to must be parquet, arrow or jsonl, got {to!r}")
    if output is None and push_to_hub is None:
        fail("give --output and/or --push-to-hub")
    if not input.exists():
        fail(f"not found: {input}")
    fmt = check_output(output, to) if output is not None else None
    try:
        if output is not None:
            report = ImportReport()
            with InputProgress("exporting", [input]) as bar:
                convs = bar.counted(_load(input, format, report), report)
                first = next(convs, None)
                n = 0 if first is None else save_dataset(chain([first], convs), output, format=fmt)
            print_errors(report.errors)
            if n == 0:
                nothing_imported(report, format, [input])
            out.print(f"exported {n} conversations -> {output}")
        if push_to_hub is not None:
            try:
                info = push(list(_load(input, format, ImportReport())), push_to_hub, private=private)
            except (OSError, ValueError) as exc:  # offline, no token, no such repo...
                fail(f"push to {push_to_hub} failed: {exc}")
            out.print(f"pushed to {push_to_hub}: {info}")
    except (MalformedRowError, ValidationError, UnknownFormatError) as exc:
        fail(validation_reason(exc) if isinstance(exc, ValidationError) else str(exc))
    except ModuleNotFoundError as exc:
        fail(missing_module(exc.name))
    except OSError as exc:  # no space left, no permission...
        fail(f"cannot write {output}: {exc}")


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
