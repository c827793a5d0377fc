"""Source adapters: one module per input format, a registry, and format auto-detection.

`import_file(path)` streams the conversations of any supported file (JSONL, JSON array, parquet, or
ChatterBot YAML); malformed rows are reported in the `ImportReport` with file and line, and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sharelm.io import RowError, read_jsonl
from sharelm.schema import Conversation
from sharelm.sources import (
    chatterbot,
    collective_cognition,
    hh_rlhf,
    lmsys,
    oasst,
    openai_messages,
    plugin,
    prism,
    sharegpt,
    sharelm_rows,
    wildchat,
)
from sharelm.sources.base import ImportReport, Row, Source, convert_each, iter_rows

# Detection order: the most specific shapes first (WildChat and LMSYS rows also have `conversation`,
# Collective Cognition rows are ShareGPT rows with a title).
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        plugin.SOURCE,
        hh_rlhf.SOURCE,
        oasst.SOURCE,
        prism.SOURCE,
        wildchat.SOURCE,
        lmsys.SOURCE,
        sharelm_rows.SOURCE,
        collective_cognition.SOURCE,
        sharegpt.SOURCE,
        openai_messages.SOURCE,
        chatterbot.SOURCE,
    )
}
DETECT_ROWS = 20

__all__ = [
    "SOURCES",
    "ImportReport",
    "Source",
    "UnknownFormatError",
    "UnreadableFileError",
    "detect_format",
    "detect_row",
    "get_source",
    "import_file",
]


class UnknownFormatError(ValueError):
    pass


class UnreadableFileError(UnknownFormatError):
    """No row of the file could be read (a truncated JSON file): the first error, with file and line."""

    def __init__(self, error: RowError):
        super().__init__(f"{error} (no readable rows, so the format cannot be detected)")
        self.error = error


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownFormatError(f"unknown format {name!r}; known: {', '.join(SOURCES)}") from None


def detect_row(row: Row) -> Source | None:
    return next((s for s in SOURCES.values() if s.matches(row)), None)


def detect_format(path: str | Path) -> str:
    """The format of a file, from its first readable rows; `UnreadableFileError` (file:line: why) when
    none of them could be read."""
    seen, first_error = 0, None
    for _, row in iter_rows(path):
        if isinstance(row, RowError):
            first_error = first_error or row
            continue
        source = detect_row(row)
        if source is not None:
            return source.name
        seen += 1
        if seen >= DETECT_ROWS:
            break
    if seen == 0 and first_error is not None:
        raise UnreadableFileError(first_error)
    raise UnknownFormatError(
        f"{path}: cannot tell the format from its first rows; pass one of: {', '.join(SOURCES)}"
    )


def import_file(
    path: str | Path, format: str | None = None, report: ImportReport | None = None
) -> Iterator[Conversation]:
    """Stream conversations from one file; bad rows go to `report` (file and line) and are skipped.
    `report.bytes_read` grows with the bytes read (for a progress bar over the inputs' sizes)."""
    report = report if report is not None else ImportReport()
    source = get_source(format) if format else get_source(detect_format(path))
    report.formats[str(path)] = source.name
    skipped_before = report.skipped
    bytes_before = report.bytes_read

    def on_bytes(n: int) -> None:
        report.bytes_read = bytes_before + n

    if source.name == sharelm_rows.SOURCE.name and ".jsonl" in Path(path).name.lower():
        # Our own format: pydantic parses each line straight from JSON (several times faster than dicts).
        for conv in read_jsonl(path, on_error=report.error, on_bytes=on_bytes):
            report.rows += 1
            report.conversations += 1
            yield conv
        report.rows += report.skipped - skipped_before
        return

    def good_rows() -> Iterator[tuple[int, Row]]:
        for lineno, row in iter_rows(path, on_bytes):
            report.rows += 1
            if isinstance(row, RowError):
                report.error(row)
            else:
                yield lineno, row

    if source.convert_rows is not None:
        yield from source.convert_rows(good_rows(), str(path), report)
    else:
        yield from convert_each(source, good_rows(), str(path), report)
