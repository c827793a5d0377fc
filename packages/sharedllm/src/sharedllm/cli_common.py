"""What the `sharedllm` commands share: error exits and reading documents from a `--data` source."""

from __future__ import annotations

from typing import NoReturn

import typer

DATA_HELP = (
    "Documents: 'python' (the .py files of this interpreter's site-packages) or 'python:DIR', a Hugging "
    "Face dataset name or save_to_disk dir, a JSONL/parquet file, a text file or directory of files, or a "
    "ShareLM export (with kind=sharelm)."
)


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def python_corpus_root(data: str) -> tuple[bool, str | None]:
    """('python' or 'python:DIR') -> (is the code corpus, its root or None for site-packages)."""
    if data == "python" or data.startswith("python:"):
        return True, data.partition(":")[2] or None
    return False, None


def read_documents(
    data: str,
    kind: str = "auto",
    text_field: str = "text",
    pattern: str = "**/*.txt",
    limit: int | None = None,
    split: str = "train",
) -> tuple[list[str], list[str]]:
    """Texts and their groups (the package for the code corpus, else the index). For the code corpus,
    `split` picks the training documents or the held-out packages."""
    from sharedllm.data.corpus import python_source_corpus
    from sharedllm.data.sources import load_texts

    is_code, root = python_corpus_root(data)
    try:
        if is_code:
            corpus = python_source_corpus(root)
            docs = (corpus.train if split == "train" else corpus.heldout)[:limit]
            return [d.text for d in docs], [d.package for d in docs]
        texts = list(load_texts(data, kind=kind, text_field=text_field, pattern=pattern, limit=limit))
    except (FileNotFoundError, ValueError) as exc:
        fail(f"cannot read --data {data}: {exc}")
    return texts, [str(i) for i in range(len(texts))]
