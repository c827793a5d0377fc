"""The ChatterBot corpus (PyPI `chatterbot-corpus`): real human-written dialogs, 20 topics, 27 languages.

Each YAML file is `{categories: [topic], conversations: [[utterance, reply, ...], ...]}`; every dialog
becomes a conversation alternating user/assistant, with the topic in `conversation_metadata.extra`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from sharelm.schema import Conversation
from sharelm.sources.base import Row, Source

SOURCE_NAME = "chatterbot_corpus"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when built in: ~10x faster

# Directory name -> language name as the public datasets spell it (LMSYS / WildChat use English names).
LANGUAGE_NAMES = {
    "traditionalchinese": "Chinese",
    "hinglish": "Hinglish",
}


def corpus_dir() -> Path:
    import chatterbot_corpus  # the data package; imported lazily so the rest of sharelm works without it

    return Path(chatterbot_corpus.__file__).parent / "data"


def available_languages() -> list[str]:
    return sorted(p.name for p in corpus_dir().iterdir() if p.is_dir())


def language_name(directory: str) -> str:
    return LANGUAGE_NAMES.get(directory, directory.capitalize())


def dialog_to_conversation(
    dialog: list[Any], *, conversation_id: str, topic: str, language: str
) -> Conversation:
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": str(text)}
        for i, text in enumerate(dialog)
        if text is not None and str(text).strip()
    ]
    return Conversation.model_validate(
        {
            "conversation_id": conversation_id,
            "conversation": messages,
            "source": SOURCE_NAME,
            "conversation_metadata": {"language": language, "extra": {"topic": topic}},
        }
    )


def load_file(path: Path, language: str | None = None) -> Iterator[Conversation]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    lang_dir = path.parent.name
    categories = data.get("categories") or [path.stem]
    topic = str(categories[0])
    for i, dialog in enumerate(data.get("conversations") or []):
        if not isinstance(dialog, list) or not any(str(t).strip() for t in dialog if t is not None):
            continue
        yield dialog_to_conversation(
            dialog,
            conversation_id=f"chatterbot-{lang_dir}-{path.stem}-{i}",
            topic=topic,
            language=language or language_name(lang_dir),
        )


def load_corpus(languages: Iterable[str] | None = ("english",)) -> Iterator[Conversation]:
    """Dialogs of the installed corpus for the given language directories (None or ("all",): every one)."""
    root = corpus_dir()
    langs = list(languages) if languages is not None else ["all"]
    if "all" in langs:
        langs = available_languages()
    for lang in langs:
        lang_path = root / lang.lower()
        if not lang_path.is_dir():
            raise ValueError(
                f"chatterbot-corpus has no language {lang!r}; available: {available_languages()}"
            )
        for path in sorted(lang_path.glob("*.yml")):
            yield from load_file(path)


def matches(row: Row) -> bool:
    return isinstance(row.get("conversations"), list) and "categories" in row


def convert(row: Row) -> list[Conversation]:
    """One corpus YAML file read by the generic reader (its path under "__yaml_path__")."""
    return list(load_file(Path(row["__yaml_path__"])))


SOURCE = Source(SOURCE_NAME, matches, convert, "ChatterBot corpus YAML (categories + dialogs)")
