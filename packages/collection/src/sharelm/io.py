"""Our on-disk interchange format: JSON Lines, one `Conversation` per line (optionally gzip-compressed)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from sharelm.schema import Conversation


@dataclass(frozen=True)
class RowError:
    """A malformed input row: where it is and why it was skipped."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class MalformedRowError(ValueError):
    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


def validation_reason(exc: ValidationError) -> str:
    """pydantic's errors as one line naming each field: `conversation.0.role: Input should be ...`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def open_text(path: str | Path, mode: str = "rt") -> IO[str]:
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


OnBytes = Callable[[int], None]  # bytes of one input file read so far (compressed bytes for .gz)
PROGRESS_EVERY = 512  # lines between `on_bytes` calls: cheap, and often enough for a progress bar


def input_size(path: str | Path) -> int:
    """Bytes of an input: a file's size, or the sum of a directory's files (a datasets directory)."""
    path = Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def _text_over(raw: IO[bytes], gz: bool) -> IO[str]:
    if gz:
        return gzip.open(raw, "rt", encoding="utf-8")  # type: ignore[return-value]
    return io.TextIOWrapper(raw, encoding="utf-8")


def iter_lines(path: str | Path, on_bytes: OnBytes | None = None) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file (gzip when it ends in .gz), streamed; `on_bytes` hears how
    much of the file has been read, every PROGRESS_EVERY lines and at the end."""
    path = Path(path)
    with open(path, "rb") as raw, _text_over(raw, gz=path.suffix == ".gz") as fh:
        for lineno, line in enumerate(fh, 1):
            if on_bytes is not None and lineno % PROGRESS_EVERY == 0:
                on_bytes(raw.tell())  # the raw file's position: compressed bytes for gzip
            yield lineno, line
    if on_bytes is not None:
        on_bytes(path.stat().st_size)


def read_jsonl(
    path: str | Path, on_error: Callable[[RowError], None] | None = None, on_bytes: OnBytes | None = None
) -> Iterator[Conversation]:
    """Conversations from a JSONL file, streamed. A bad line raises `MalformedRowError` (file and line),
    unless `on_error` is given: then it is reported there and skipped."""
    for lineno, line in iter_lines(path, on_bytes):
        if not line.strip():
            continue
        try:
            yield Conversation.model_validate_json(line)
        except ValidationError as exc:
            reason = validation_reason(exc)
            if exc.errors()[0]["type"] == "json_invalid":
                reason = f"invalid JSON: {exc.errors()[0]['msg']}"
            error = RowError(str(path), lineno, reason)
            if on_error is None:
                raise MalformedRowError(error) from None
            on_error(error)


def write_jsonl(convs: Iterable[Conversation], path: str | Path) -> int:
    """Write conversations as JSONL (gzip when the name ends in .gz); returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open_text(path, "wt") as fh:
        for conv in convs:
            fh.write(conv.model_dump_json())
            fh.write("\n")
            n += 1
    return n
