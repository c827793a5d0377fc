"""`sharelm build`: merge sources into one collection, streamed: validate, redact, dedup, tag language.

Every stage is a generator over conversations, so memory holds one batch at a time plus the dedup index
(bounded, see `sharelm.dedup`). Drops are written to a JSONL log as they happen, with their reason.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sharelm.export import save_dataset
from sharelm.redact import redact_conversation
from sharelm.schema import Conversation
from sharelm.sources import ImportReport, import_file

if TYPE_CHECKING:
    from sharelm.dedup import Deduplicator  # needs the [clean] extra (numpy, datasketch)


@dataclass
class BuildOptions:
    redact: bool = True
    dedup: bool = True
    near_dup: bool = True
    language: bool = True
    threshold: float = 0.8
    window: int = 100_000
    format: str | None = None  # input format; None: detect per file


@dataclass
class BuildReport:
    imported: ImportReport = field(default_factory=ImportReport)
    written: int = 0
    redacted_conversations: int = 0
    redactions: dict[str, int] = field(default_factory=dict)
    dedup: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["imported"] = {
            "rows": self.imported.rows,
            "conversations": self.imported.conversations,
            "skipped": self.imported.skipped,
            "formats": self.imported.formats,
            "errors": [str(e) for e in self.imported.errors[:100]],
        }
        return d


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux: VmHWM of /proc/self/status, which belongs to the current program image; `ru_maxrss` would
    also count the parent's peak when we were started by fork + exec (the benchmark's subprocesses).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def redact_stage(convs: Iterable[Conversation], report: BuildReport) -> Iterator[Conversation]:
    for conv in convs:
        out, counts = redact_conversation(conv)
        if counts:
            report.redacted_conversations += 1
            for k, v in counts.items():
                report.redactions[k] = report.redactions.get(k, 0) + v
        yield out


def dedup_stage(
    convs: Iterable[Conversation], dedup: Deduplicator, drops: IO[str] | None
) -> Iterator[Conversation]:
    for conv in dedup.filter(convs):
        if dedup.drops:
            _log_drops(dedup, drops)
        yield conv
    _log_drops(dedup, drops)


def _log_drops(dedup: Deduplicator, drops: IO[str] | None) -> None:
    records = dedup.pop_drops()
    if drops is not None:
        for r in records:
            drops.write(json.dumps(r.to_dict()) + "\n")


def read_inputs(
    inputs: Iterable[str | Path], options: BuildOptions, report: BuildReport
) -> Iterator[Conversation]:
    for path in inputs:
        if not Path(path).exists():
            raise FileNotFoundError(f"input file not found: {path}")
        yield from import_file(path, format=options.format, report=report.imported)


def pipeline(
    inputs: Iterable[str | Path],
    options: BuildOptions,
    report: BuildReport,
    drops: IO[str] | None = None,
) -> Iterator[Conversation]:
    """The stages chained; iterate it to run the build."""
    convs: Iterable[Conversation] = read_inputs(inputs, options, report)
    if options.redact:
        convs = redact_stage(convs, report)
    if options.dedup:
        from sharelm.dedup import Deduplicator

        dedup = Deduplicator(near=options.near_dup, threshold=options.threshold, window=options.window)
        report.dedup = dedup.stats.__dict__  # live view: counts update as the build streams
        convs = dedup_stage(convs, dedup, drops)
    if options.language:
        from sharelm.language import LanguageTagger

        convs = LanguageTagger().tag(convs)
    return iter(convs)


def build(
    inputs: list[str | Path],
    output: str | Path,
    options: BuildOptions | None = None,
    *,
    drops_path: str | Path | None = None,
    on_progress: Callable[[int], None] | None = None,
    report: BuildReport | None = None,
) -> BuildReport:
    """Run the pipeline into `output` (.jsonl[.gz], .parquet, or a `datasets` directory). Nothing is
    written when no conversation came through (`written == 0`; `imported` says why). Pass `report` to
    watch it during the build (`report.imported.bytes_read` against the inputs' sizes)."""
    options = options or BuildOptions()
    report = report if report is not None else BuildReport()
    t0, c0 = time.perf_counter(), time.process_time()

    def counted(convs: Iterable[Conversation]) -> Iterator[Conversation]:
        for conv in convs:
            report.written += 1
            if on_progress is not None and report.written % 1000 == 0:
                on_progress(report.written)
            yield conv

    with open(drops_path, "w", encoding="utf-8") if drops_path else nullcontext() as drops:
        convs = counted(pipeline(inputs, options, report, drops))
        first = next(convs, None)
        if first is not None:
            save_dataset(chain([first], convs), output)
    report.seconds = time.perf_counter() - t0
    report.cpu_seconds = time.process_time() - c0
    report.peak_rss_mb = peak_rss_mb()
    if report.dedup:
        report.dedup = {k: v for k, v in report.dedup.items() if k != "examples"}
    return report
