"""Regenerate src/sharelm/data/names.json.gz, the name lexicon of sharelm's name rule, from Faker.

Faker (MIT, maintained, person providers for 86 locales) is only needed to regenerate the file, not at run
time: `pip install faker && python packages/collection/scripts/make_name_lexicon.py`. Kept: single-word
given names and surnames in cased scripts (Latin, Cyrillic, Greek, Armenian), split on spaces ("De la
Cruz" -> its capitalised parts), as they are written; and the common words of Faker's lorem providers in 30
languages (not its Latin lorem ipsum), which the rule treats as ambiguous ("Will", "Rose", "Can" are names
too). Uncased scripts (Han, Arabic, Devanagari, ...) are
left to the rule's trigger phrases: without capitals a word list alone cannot tell a name in running text.
"""

from __future__ import annotations

import gzip
import importlib
import json
import pkgutil
from pathlib import Path

import faker
import faker.providers.lorem as lorem
import faker.providers.person as person

OUT = Path(__file__).resolve().parents[1] / "src" / "sharelm" / "data" / "names.json.gz"


def _strings(value: object) -> list[str]:
    items = list(value) if isinstance(value, (dict, list, tuple, set, frozenset)) else []
    return [x for x in items if isinstance(x, str)]


def _tokens(name: str) -> list[str]:
    # "Ana María" -> both parts; keep hyphens and apostrophes inside a part (Jean-Luc, O'Brien).
    return [t for t in name.replace(".", " ").split() if len(t) >= 2 and t[0].isupper() and t.isalpha()
            or ("-" in t or "'" in t) and t[0].isupper()]


def collect() -> tuple[dict[str, list[str]], list[str]]:
    first: set[str] = set()
    last: set[str] = set()
    locales = sorted(m.name for m in pkgutil.iter_modules(person.__path__))
    for loc in locales:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr, value in vars(provider).items():
            target = first if attr.startswith("first_") else last if attr.startswith("last_") else None
            if target is not None:
                for name in _strings(value):
                    target.update(_tokens(name))
    return {"first": sorted(first), "last": sorted(last)}, locales


def common_words() -> list[str]:
    words: set[str] = set()
    for m in pkgutil.iter_modules(lorem.__path__):
        if m.name in ("la", "en_PH"):  # lorem ipsum, not a language's words
            continue
        provider = importlib.import_module(f"faker.providers.lorem.{m.name}").Provider
        words.update(w.lower() for w in _strings(getattr(provider, "word_list", ())) if w[:1].isalpha())
    return sorted(w for w in words if w[0].lower() != w[0].upper())  # cased scripts only


def main() -> None:
    names, locales = collect()
    doc = {
        "source": f"Faker {faker.VERSION} person and lorem providers",
        "locales": locales,
        **names,
        "common": common_words(),
    }
    OUT.write_bytes(gzip.compress(json.dumps(doc, ensure_ascii=False).encode("utf-8"), mtime=0))
    counts = f"{len(doc['first']):,} given names, {len(doc['last']):,} surnames, {len(doc['common']):,} words"
    print(f"{counts} -> {OUT}")


if __name__ == "__main__":
    main()
