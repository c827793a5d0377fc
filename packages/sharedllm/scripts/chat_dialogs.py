"""Write the chat default model's training dialogs as one ShareLM JSONL export (sharelm schema).

The ChatterBot corpus (English, `sharelm.sources.chatterbot.load_corpus`) plus the English conversations of
any other files given (any format `sharelm.sources.import_file` reads: the collection's own exports,
LMSYS, WildChat, OpenAssistant, ...). Used by `make chat-default-model`.

    python packages/sharedllm/scripts/chat_dialogs.py --out runs/chat-default/dialogs.jsonl [FILES...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sharelm.io import write_jsonl
from sharelm.sources import import_file
from sharelm.sources.chatterbot import load_corpus


def _usable(conv) -> bool:
    roles = [m.role for m in conv.conversation]
    language = (conv.conversation_metadata.language or "English") if conv.conversation_metadata else "English"
    return "assistant" in roles and "system" not in roles and language.lower() in ("english", "en")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("files", nargs="*", type=Path, help="more conversation files (sharelm-readable)")
    args = parser.parse_args(argv)
    convs = list(load_corpus(("english",)))
    n_corpus = len(convs)
    for path in args.files:
        convs += [c for c in import_file(path) if _usable(c)]
    n = write_jsonl(convs, args.out)
    extra = f"{n - n_corpus} from {len(args.files)} files"
    print(f"{n} conversations ({n_corpus} ChatterBot English, {extra}) -> {args.out}")


if __name__ == "__main__":
    main()
