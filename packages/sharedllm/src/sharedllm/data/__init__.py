"""Long-document data for SharedLLM: sources, an offline code corpus, a tokenizer, and chunked examples."""

from sharedllm.data.chunking import ChunkedExample, chunk_document, collate_chunked, layout_example
from sharedllm.data.corpus import CodeCorpus, python_source_corpus
from sharedllm.data.sources import load_texts

__all__ = [
    "ChunkedExample",
    "CodeCorpus",
    "chunk_document",
    "collate_chunked",
    "layout_example",
    "load_texts",
    "python_source_corpus",
]
