"""An offline long-document corpus: the Python sources of installed packages (a local CodeParrot).

A document is one directory's `.py` files concatenated in name order, so that the context a model sees is
code that shares imports, names and idioms with the text it predicts (the reason long context helps on
code). Whole top-level packages are held out for evaluation, so no held-out document shares a package
with training data.
"""

from __future__ import annotations

import os
import random
import sysconfig
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FILE_HEADER = "# ---- file: {path} ----\n"


@dataclass(frozen=True)
class Document:
    name: str  # e.g. "requests/adapters" (the directory, relative to the corpus root)
    package: str  # the top-level package, the unit that is held out
    text: str


@dataclass
class CodeCorpus:
    root: Path
    train: list[Document] = field(default_factory=list)
    heldout: list[Document] = field(default_factory=list)

    @property
    def heldout_packages(self) -> list[str]:
        return sorted({d.package for d in self.heldout})


def default_root() -> Path:
    """The site-packages of the running interpreter: always present, thousands of real files."""
    return Path(sysconfig.get_paths()["purelib"])


def is_heldout(package: str, fraction: float) -> bool:
    """A stable split by package name (crc32, not Python's salted hash), the same on every machine."""
    return zlib.crc32(package.encode()) % 1000 < fraction * 1000


def _read_source(path: Path, max_file_chars: int) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    # Very large files are generated tables (unicode data, locale lists): not code worth modelling.
    return text if 0 < len(text) <= max_file_chars else None


def _directory_documents(
    root: Path, directory: Path, max_file_chars: int, max_doc_chars: int
) -> Iterator[str]:
    """Concatenate a directory's files; cut into several documents when it grows past max_doc_chars."""
    parts: list[str] = []
    size = 0
    for path in sorted(directory.glob("*.py")):
        text = _read_source(path, max_file_chars)
        if text is None:
            continue
        part = FILE_HEADER.format(path=path.relative_to(root).as_posix()) + text.rstrip() + "\n\n"
        if parts and size + len(part) > max_doc_chars:
            yield "".join(parts)
            parts, size = [], 0
        parts.append(part)
        size += len(part)
    if parts:
        yield "".join(parts)


def iter_documents(
    root: Path, max_file_chars: int = 200_000, max_doc_chars: int = 400_000
) -> Iterator[Document]:
    directories = sorted(
        Path(d)
        for d, _, files in os.walk(root, followlinks=True)  # site-packages may hold symlinked packages
        if "__pycache__" not in Path(d).parts and any(f.endswith(".py") for f in files)
    )
    for directory in directories:
        rel = directory.relative_to(root)
        if not rel.parts:  # loose modules at the root of site-packages (six.py, typing_extensions.py)
            continue
        package = rel.parts[0]
        for i, text in enumerate(_directory_documents(root, directory, max_file_chars, max_doc_chars)):
            name = rel.as_posix() + (f"#{i}" if i else "")
            yield Document(name=name, package=package, text=text)


def python_source_corpus(
    root: str | Path | None = None,
    heldout_fraction: float = 0.1,
    max_train_chars: int | None = None,
    min_doc_chars: int = 2_000,
    seed: int = 0,
) -> CodeCorpus:
    """Split the `.py` files under root into training and held-out documents by top-level package.

    max_train_chars caps the training side (documents drawn in a seeded random order) so that a corpus
    of hundreds of megabytes can feed a run of a few minutes.
    """
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus root {root} is not a directory")
    corpus = CodeCorpus(root=root)
    for doc in iter_documents(root):
        if len(doc.text) < min_doc_chars:
            continue
        (corpus.heldout if is_heldout(doc.package, heldout_fraction) else corpus.train).append(doc)
    random.Random(seed).shuffle(corpus.train)
    if max_train_chars is not None:
        kept, total = [], 0
        for doc in corpus.train:
            if total >= max_train_chars:
                break
            kept.append(doc)
            total += len(doc.text)
        corpus.train = kept
    if not corpus.train or not corpus.heldout:
        raise ValueError(
            f"corpus under {root} gave {len(corpus.train)} training and {len(corpus.heldout)} held-out "
            "documents; both must be non-empty (lower min_doc_chars or change heldout_fraction)"
        )
    return corpus
