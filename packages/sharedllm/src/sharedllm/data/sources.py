"""Where long documents come from: a Hugging Face dataset, local text files, or a ShareLM export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

SourceKind = Literal["auto", "hf", "files", "sharelm"]
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


def render_conversation(conv) -> str:
    """A chat as plain text for continual pretraining (instruction tuning uses the chat template)."""
    return "\n\n".join(f"{ROLE_NAMES.get(m.role, m.role)}: {m.content}" for m in conv.conversation) + "\n"


def _file_texts(path: Path, pattern: str) -> Iterator[str]:
    files = [path] if path.is_file() else sorted(p for p in path.glob(pattern) if p.is_file())
    if not files:
        raise FileNotFoundError(f"no files match {pattern!r} under {path}")
    for file in files:
        yield file.read_text(encoding="utf-8", errors="replace")


def _hf_texts(source: str, split: str, text_field: str) -> Iterator[str]:
    import datasets

    path = Path(source)
    if path.is_dir() and (path / "dataset_info.json").exists():  # a save_to_disk directory
        ds = datasets.load_from_disk(str(path))
        ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
    elif path.is_file() and path.suffix in {".jsonl", ".json", ".parquet", ".csv"}:
        builder = {".jsonl": "json", ".json": "json"}.get(path.suffix, path.suffix[1:])
        ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    else:
        ds = datasets.load_dataset(source, split=split)
    if text_field not in ds.column_names:
        raise ValueError(f"dataset {source} has no column {text_field!r} (columns: {ds.column_names})")
    for row in ds:
        yield row[text_field]


def _sharelm_texts(source: str) -> Iterator[str]:
    from sharelm.export import load_conversations

    for conv in load_conversations(source):
        yield render_conversation(conv)


def _guess_kind(source: str) -> SourceKind:
    path = Path(source)
    if path.is_dir() and (path / "dataset_info.json").exists() or path.suffix == ".parquet":
        return "hf"
    if path.exists():
        return "files"
    return "hf"  # a hub name


def load_texts(
    source: str,
    kind: SourceKind = "auto",
    split: str = "train",
    text_field: str = "text",
    pattern: str = "**/*.txt",
    limit: int | None = None,
) -> Iterator[str]:
    """Yield documents as strings. kind="sharelm" reads a ShareLM collection export (save_dataset
    output or JSONL of Conversations) and renders each chat as text."""
    kind = _guess_kind(source) if kind == "auto" else kind
    if kind == "files":
        texts = _file_texts(Path(source), pattern)
    elif kind == "hf":
        texts = _hf_texts(source, split, text_field)
    elif kind == "sharelm":
        texts = _sharelm_texts(source)
    else:
        raise ValueError(f"unknown source kind {kind!r}; use one of auto, hf, files, sharelm")
    for i, text in enumerate(texts):
        if limit is not None and i >= limit:
            return
        yield text
