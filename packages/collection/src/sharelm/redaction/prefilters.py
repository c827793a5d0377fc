"""Named prefilters: Python tests a rule's text must pass before its regex runs (`"prefilter"` in the rules
file). They only skip work: each returns True wherever its rule can match (tests/test_redact.py checks that
on every labelled text the rule matches). The plugin ignores them and runs the rule's literal hints.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# The continental street rule: a name ending in a street suffix right before its house number
# ("Hauptstraße 12"), or a street word ("Rue", "Via", "ul.") somewhere before one ("Rue de la Paix 12").
STREET_SUFFIXES = (
    "straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "ring", "damm", "ufer", "straat", "laan",
    "gracht", "plein", "kade", "singel", "dijk", "vej", "gade", "gatan", "vägen", "vagen", "veien", "gata",
    "katu", "tie",
)  # fmt: skip
STREET_WORDS = (
    "Rue", "Avenue", "Boulevard", "Place", "Chemin", "Allée", "Allee", "Impasse", "Quai", "Calle", "Avenida",
    "Plaza", "Paseo", "Via", "Viale", "Piazza", "Corso", "Rua", "Travessa", "Carrer", "Ulica", "Aleja",
)  # fmt: skip
_SPACE_DIGIT = re.compile(r" \d", re.ASCII)


def _by_first_letter(words: tuple[str, ...]) -> str:
    """An alternation grouped by first letter: re then tries one group at a capital, not every word."""
    groups: dict[str, list[str]] = {}
    for w in words:
        groups.setdefault(w[0], []).append(re.escape(w[1:]))
    return "|".join(f"{c}(?:{'|'.join(sorted(g, key=len, reverse=True))})" for c, g in groups.items())


_STREET_WORD = re.compile(f"(?:{_by_first_letter(STREET_WORDS)}) ")


def street_number(text: str) -> bool:
    for m in _SPACE_DIGIT.finditer(text):
        if text.endswith(STREET_SUFFIXES, 0, m.start()):
            return True
    if _STREET_WORD.search(text) is not None:
        return True
    return "l. " in text and ("ul. " in text or "al. " in text)  # Polish "ul." / "al."


PREFILTERS: dict[str, Callable[[str], bool]] = {"street_number": street_number}
