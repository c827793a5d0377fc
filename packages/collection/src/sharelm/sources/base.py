"""What every source adapter shares: the row reader, the import report, stable ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sharelm.io import OnBytes, RowError, iter_lines, validation_reason
from sharelm.schema import Conversation

Row = dict[str, Any]
MAX_KEPT_ERRORS = 1_000


@dataclass
class ImportReport:
    """Counts of one import; errors name file and line (the first MAX_KEPT_ERRORS are kept)."""

    rows: int = 0
    conversations: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # path -> detected format
    bytes_read: int = 0  # of the inputs' sizes, for progress (`sharelm.io.input_size`)

    def error(self, err: RowError) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(err)

    def summary(self) -> str:
        return (
            f"{self.rows} rows read, {self.conversations} conversations, "
            f"{self.skipped} malformed rows skipped"
        )


@dataclass(frozen=True)
class Source:
    """One input format. `convert` turns one row into conversations (raising on a malformed row);
    `convert_rows` replaces it for formats whose conversations span rows (OpenAssistant message lists)."""

    name: str
    matches: Callable[[Row], bool]
    convert: Callable[[Row], Iterable[Conversation]]
    description: str = ""
    convert_rows: Callable[[Iterable[tuple[int, Row]], str, ImportReport], Iterator[Conversation]] | None = (
        None
    )


def stable_id(*parts: Any) -> str:
    """A deterministic id from content: re-importing a file gives the same ids (idempotent uploads)."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def error_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return validation_reason(exc)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


def iter_rows(path: str | Path, on_bytes: OnBytes | None = None) -> Iterator[tuple[int, Row | RowError]]:
    """(line number, row) for JSONL (line), JSON arrays and parquet (row number); unreadable rows as
    RowError. YAML files are one row (the ChatterBot corpus file). `on_bytes` hears how much of the file
    has been read (for JSON and parquet: in proportion to the rows done)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".yml", ".yaml")):
        yield from _yaml_rows(path)
    elif name.endswith(".parquet"):
        yield from _parquet_rows(path, on_bytes)
    elif name.endswith(".json"):
        yield from _json_rows(path, on_bytes)
    else:
        yield from _jsonl_rows(path, on_bytes)
    if on_bytes is not None:
        on_bytes(path.stat().st_size)


def _yaml_rows(path: Path) -> Iterator[tuple[int, Row | RowError]]:
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        yield 1, {"__yaml_path__": str(path), **data}
    except yaml.YAMLError as exc:
        yield 1, RowError(str(path), 1, f"invalid YAML: {exc}")


def _parquet_rows(path: Path, on_bytes: OnBytes | None) -> Iterator[tuple[int, Row | RowError]]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    size, total, n = path.stat().st_size, max(1, file.metadata.num_rows), 0
    for batch in file.iter_batches(batch_size=1_000):
        for row in batch.to_pylist():
            n += 1
            yield n, row
        if on_bytes is not None:
            on_bytes(size * n // total)


def _json_rows(path: Path, on_bytes: OnBytes | None) -> Iterator[tuple[int, Row | RowError]]:
    """A JSON array (or one object): parsed whole; a syntax error is one RowError at its line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        yield exc.lineno, RowError(str(path), exc.lineno, f"invalid JSON (column {exc.colno}): {exc.msg}")
        return
    items = data if isinstance(data, list) else [data]
    size = path.stat().st_size
    for i, row in enumerate(items, 1):
        if on_bytes is not None and i % 512 == 0:
            on_bytes(size * i // len(items))
        yield i, row if isinstance(row, dict) else RowError(str(path), i, "row is not a JSON object")


def _jsonl_rows(path: Path, on_bytes: OnBytes | None) -> Iterator[tuple[int, Row | RowError]]:
    for lineno, line in iter_lines(path, on_bytes):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, RowError(str(path), lineno, f"invalid JSON (column {exc.colno}): {exc.msg}")
            continue
        yield (
            lineno,
            row if isinstance(row, dict) else RowError(str(path), lineno, "row is not an object"),
        )


def convert_each(source: Source, rows: Iterable[tuple[int, Row]], path: str, report: ImportReport):
    for lineno, row in rows:
        try:
            convs = list(source.convert(row))
        except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            report.error(RowError(path, lineno, error_reason(exc)))
            continue
        report.conversations += len(convs)
        yield from convs


def text_of(value: Any) -> str:
    """Message content as text: OpenAI-style lists of parts keep their text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text", "")) for p in value if isinstance(p, str | dict)
        )
    if value is None:
        raise ValueError("message content is missing")
    return str(value)
