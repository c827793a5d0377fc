"""Hugging Face `datasets` export/import in the public ShareLM layout (needs the `[hf]` extra).

`FEATURES` are the public dataset's columns, in its order and types, plus our two additions inside
`conversation_metadata`: `message_ratings` (int8 list) and `extra` (a JSON string, since its keys vary).
Everything streams in batches: `save_dataset` never holds the whole collection in memory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharelm.io import OnBytes, read_jsonl, write_jsonl
from sharelm.schema import Conversation

if TYPE_CHECKING:
    import datasets

__all__ = [
    "features",
    "to_hf_row",
    "from_hf_row",
    "to_hf_dataset",
    "from_hf_dataset",
    "output_format",
    "save_dataset",
    "load_conversations",
    "push_to_hub",
    "read_jsonl",
    "write_jsonl",
]

PUBLIC_COLUMNS = (
    "conversation_id",
    "conversation",
    "model_name",
    "user_id",
    "timestamp",
    "source",
    "user_metadata",
    "conversation_metadata",
)
PUBLIC_METADATA = ("rate", "language", "redacted", "toxic", "title", "custom_instruction", "status")
BATCH_SIZE = 5_000
# Output names `save_dataset` understands; a name without a suffix is a `datasets` directory.
OUTPUT_SUFFIXES = {".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".parquet": "parquet"}
ACCEPTED_OUTPUTS = ".jsonl, .jsonl.gz, .parquet, or a path without a suffix for a datasets directory"


def output_format(path: str | Path) -> str:
    """"jsonl", "parquet" or "arrow" (a datasets directory) from an output's name; ValueError for any
    other suffix (`out.txt` would otherwise become a directory of that name)."""
    path = Path(path)
    name = path.name.lower()
    for suffix, fmt in OUTPUT_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    if not path.suffix or path.is_dir():
        return "arrow"
    raise ValueError(f"{path}: unknown output suffix {path.suffix!r}; use {ACCEPTED_OUTPUTS}")


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence `datasets`' own progress bars (they would interleave with a caller's, e.g. the CLI's)."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def features() -> datasets.Features:
    """Explicit Features: the public ShareLM columns, then our additions."""
    from datasets import Features, List, Value

    string = Value("string")
    return Features(
        {
            "conversation_id": string,
            "conversation": List({"content": string, "role": string}),
            "model_name": string,
            "user_id": string,
            "timestamp": string,
            "source": string,
            "user_metadata": {"location": string, "age": string, "gender": string},
            "conversation_metadata": {
                **{k: string for k in PUBLIC_METADATA},
                "message_ratings": List(Value("int8")),
                "extra": string,
            },
        }
    )


def to_hf_row(conv: Conversation) -> dict[str, Any]:
    row = conv.to_row()
    meta = row["conversation_metadata"]
    meta["extra"] = json.dumps(meta["extra"], ensure_ascii=False, sort_keys=True) if meta["extra"] else None
    row["conversation"] = [{"content": m["content"], "role": m["role"]} for m in row["conversation"]]
    return row


def from_hf_row(row: dict[str, Any]) -> Conversation:
    """A row of our export or of the public dataset (which lacks our additions) as a Conversation."""
    meta = dict(row.get("conversation_metadata") or {})
    extra = meta.get("extra")
    if isinstance(extra, str):
        meta["extra"] = json.loads(extra)
    elif extra is None:
        meta.pop("extra", None)
    if meta.get("message_ratings") is None:
        meta.pop("message_ratings", None)
    return Conversation.model_validate({**row, "conversation_metadata": meta})


def _batches(convs: Iterable[Conversation], size: int) -> Iterator[list[Conversation]]:
    it = iter(convs)
    while batch := list(islice(it, size)):
        yield batch


def to_hf_dataset(convs: Iterable[Conversation]) -> datasets.Dataset:
    """An in-memory `datasets.Dataset` with the explicit Features (use `save_dataset` for big collections)."""
    from datasets import Dataset

    return Dataset.from_list([to_hf_row(c) for c in convs], features=features())


def from_hf_dataset(ds: Iterable[dict[str, Any]]) -> Iterator[Conversation]:
    for row in ds:
        yield from_hf_row(row)


def _write_parquet(convs: Iterable[Conversation], path: Path, batch_size: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features().arrow_schema
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(convs, batch_size):
            writer.write_table(pa.Table.from_pylist([to_hf_row(c) for c in batch], schema=schema))
            n += len(batch)
        if n == 0:
            writer.write_table(schema.empty_table())
    return n


def save_dataset(
    convs: Iterable[Conversation],
    path: str | Path,
    *,
    format: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Write a collection, streamed; returns the number of conversations.

    - `x.parquet` (or format="parquet"): one parquet file with the Features' arrow schema.
    - `x.jsonl` / `x.jsonl.gz` (or format="jsonl"): our JSONL.
    - a name without a suffix (or format="arrow"): a `datasets` directory (`Dataset.save_to_disk`),
      loadable with `datasets.load_from_disk` as well as `load_conversations`.
    Any other suffix, without `format`, is a ValueError (`output_format`).
    """
    path = Path(path)
    format = format or output_format(path)
    if format == "jsonl":
        return write_jsonl(convs, path)
    if format == "parquet":
        return _write_parquet(convs, path, batch_size)
    if format != "arrow":
        raise ValueError(f"unknown format {format!r}: use parquet, jsonl or arrow")
    from datasets import Dataset

    with tempfile.TemporaryDirectory(prefix="sharelm-export-") as tmp, quiet_datasets():
        n = _write_parquet(convs, Path(tmp) / "data.parquet", batch_size)
        ds = Dataset.from_parquet(str(Path(tmp) / "data.parquet"), features=features(), cache_dir=tmp)
        ds.save_to_disk(str(path))
    return n


def _iter_parquet(path: Path, on_bytes: OnBytes | None = None) -> Iterator[Conversation]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    size, total, n = path.stat().st_size, max(1, file.metadata.num_rows), 0
    for batch in file.iter_batches(batch_size=1_000):
        for row in batch.to_pylist():
            yield from_hf_row(row)
        n += batch.num_rows
        if on_bytes is not None:
            on_bytes(size * n // total)


def _iter_saved(path: Path, on_bytes: OnBytes | None) -> Iterator[Conversation]:
    """A save_to_disk directory (Dataset or DatasetDict: every split in turn); progress by rows."""
    from datasets import load_from_disk

    from sharelm.io import input_size

    with quiet_datasets():
        ds = load_from_disk(str(path))
    splits = list(ds.values()) if hasattr(ds, "keys") else [ds]
    size, total, n = input_size(path), max(1, sum(len(s) for s in splits)), 0
    for split in splits:
        for row in split:
            yield from_hf_row(row)
            n += 1
            if on_bytes is not None and n % 1000 == 0:
                on_bytes(size * n // total)
    if on_bytes is not None:
        on_bytes(size)


def load_conversations(path: str | Path, on_bytes: OnBytes | None = None) -> Iterator[Conversation]:
    """Read back what `save_dataset` wrote (a save_to_disk directory, parquet file or directory of
    parquet files, or JSONL), streamed. `on_bytes` hears how much of `path` has been read (see
    `sharelm.io.input_size`), for a progress bar."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no dataset at {path}")
    if path.is_file():
        if path.suffix == ".parquet":
            yield from _iter_parquet(path, on_bytes)
        else:
            yield from read_jsonl(path, on_bytes=on_bytes)
        return
    if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
        yield from _iter_saved(path, on_bytes)
        return
    files = sorted(path.rglob("*.parquet")) or sorted(path.rglob("*.jsonl*"))
    if not files:
        raise FileNotFoundError(f"{path} holds no save_to_disk dataset, parquet or JSONL files")
    done = 0
    for f in files:
        yield from load_conversations(f, None if on_bytes is None else lambda n, d=done: on_bytes(d + n))
        done += f.stat().st_size


def push_to_hub(
    convs: Iterable[Conversation] | datasets.Dataset,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    split: str = "train",
) -> Any:
    """Publish to the Hugging Face Hub (needs network and a write token)."""
    from datasets import Dataset

    ds = convs if isinstance(convs, Dataset) else to_hf_dataset(convs)
    return ds.push_to_hub(repo_id, token=token, private=private, split=split)
