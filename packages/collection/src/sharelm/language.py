"""Offline language tagging with `lingua-language-detector` (statistical models shipped in the wheel).

Names follow the public datasets ("English", "German"). Only the user's messages are read when there are
any: assistants often answer in English whatever they were asked in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

from sharelm.schema import Conversation

MAX_CHARS = 300  # enough for a confident guess; detection time grows with the text
MIN_USER_CHARS = 60
NAMES = {"BOKMAL": "Norwegian", "NYNORSK": "Norwegian"}


@lru_cache(maxsize=2)
def _detector(low_accuracy: bool):
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def language_name(lang) -> str:
    return NAMES.get(lang.name, lang.name.capitalize())


def sample_text(conv: Conversation) -> str:
    """The user's words; the whole conversation when they are too short to judge (a greeting)."""
    user = " ".join(m.content for m in conv.conversation if m.role == "user")
    if len(user) < MIN_USER_CHARS:
        return " ".join(m.content for m in conv.conversation)[:MAX_CHARS]
    return user[:MAX_CHARS]


class LanguageTagger:
    """Fills `conversation_metadata.language` where a source left it empty (or everywhere with
    `overwrite=True`). `low_accuracy` mode is several times faster and needs less memory, at some cost on
    very short texts."""

    def __init__(self, *, overwrite: bool = False, low_accuracy: bool = True, batch_size: int = 256):
        self.overwrite = overwrite
        self.low_accuracy = low_accuracy
        self.batch_size = batch_size

    def detect(self, texts: list[str]) -> list[str | None]:
        langs = _detector(self.low_accuracy).detect_languages_in_parallel_of(texts)
        return [None if lang is None else language_name(lang) for lang in langs]

    def _tag_batch(self, batch: list[Conversation]) -> list[Conversation]:
        todo = [i for i, c in enumerate(batch) if self.overwrite or not c.conversation_metadata.language]
        if not todo:
            return batch
        names = self.detect([sample_text(batch[i]) for i in todo])
        out = list(batch)
        for i, name in zip(todo, names, strict=True):
            if name is not None:
                meta = batch[i].conversation_metadata.model_copy(update={"language": name})
                out[i] = batch[i].model_copy(update={"conversation_metadata": meta})
        return out

    def tag(self, convs: Iterable[Conversation]) -> Iterator[Conversation]:
        batch: list[Conversation] = []
        for conv in convs:
            batch.append(conv)
            if len(batch) >= self.batch_size:
                yield from self._tag_batch(batch)
                batch = []
        if batch:
            yield from self._tag_batch(batch)
