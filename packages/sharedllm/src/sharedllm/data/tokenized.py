"""Tokenize documents once and keep them as compact arrays (a bench reruns without re-tokenizing)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm


def tokenize_documents(
    tokenizer, texts: Sequence[str], batch_size: int = 16, desc: str = "tokenize"
) -> list[np.ndarray]:
    dtype = np.uint16 if len(tokenizer) <= np.iinfo(np.uint16).max else np.int32
    out: list[np.ndarray] = []
    for i in tqdm(range(0, len(texts), batch_size), desc=desc, leave=False):
        ids = tokenizer(list(texts[i : i + batch_size]), add_special_tokens=False)["input_ids"]
        out.extend(np.asarray(x, dtype=dtype) for x in ids)
    return out


def save_token_docs(path: Path, docs: list[np.ndarray], names: Sequence[str]) -> None:
    np.savez(path, *docs, names=np.array(list(names)))


def load_token_docs(path: Path) -> tuple[list[np.ndarray], list[str]]:
    with np.load(path) as f:
        names = [str(n) for n in f["names"]]
        return [f[f"arr_{i}"] for i in range(len(names))], names
