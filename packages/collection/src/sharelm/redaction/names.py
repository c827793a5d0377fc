"""Person names in context: a trigger phrase ("my name is", "Hi", "my manager", "Dr.", a sign-off, "cc:"),
then one to four name tokens, checked against the lexicon (`lexicon.py`) as strongly as the trigger is weak.

Why context and not the lexicon alone: half the words of English are somebody's name somewhere ("Will",
"Grant", "Potter"), so a bare "Firstname Lastname" pair also matches book titles and brands. A trigger
says a name is coming; how sure it is decides what the next word must be:
  - strong ("my name is", "je m'appelle", "From:"): any capitalised word that is not a common word,
    or a lexicon name, even in lower case ("my name is henrik");
  - relation and title ("my manager", "Dr."): a capitalised lexicon name or uncommon capitalised word;
  - weak ("Hi", "I'm", "Thanks,", "cc"): a capitalised lexicon name, and when that name is also a common
    word ("Will", "May") a surname must follow or, after a greeting, a comma.
Greetings and sign-offs count only where a sentence or line starts, and a trigger written in title case
mid-sentence ("we saw Dear Evan Hansen", "I Am Sam") is read as part of a title, not as a trigger.
Uncased scripts (Chinese, Japanese, Korean, Arabic, Hindi) are caught after their own "my name is".
"""

from __future__ import annotations

import re

from sharelm.redaction.lexicon import Lexicon, lexicon

_APOS = "'\u2019"
_STRONG = (
    r"my name is|my name's|my full name is|name\s*:|call me|i go by|je m['\u2019]appelle|mon nom est|"
    r"me llamo|mi nombre es|mi chiamo|il mio nome [e\u00e8]|meu nome [e\u00e9]|me chamo|"
    r"ich hei(?:\u00df|ss)e|"
    r"mein name ist|ik heet|mijn naam is|nazywam si\u0119|mam na imi\u0119|benim ad\u0131m|ad\u0131m|"
    r"jag heter|jeg hedder|jeg heter|minun nimeni on|\u043c\u0435\u043d\u044f \u0437\u043e\u0432\u0443\u0442|"
    r"\u043c\u0435\u043d\u0435 \u0437\u0432\u0430\u0442\u0438|(?:from|to|cc|bcc|attn|signed|sent by)\s*:"
)
_RELATIONS = (
    r"manager|boss|wife|husband|son|daughter|friend|colleague|coworker|co-worker|partner|girlfriend|"
    r"boyfriend|brother|sister|mother|father|mom|mum|dad|teacher|doctor|landlord|landlady|neighbou?r|"
    r"supervisor|client|tenant|roommate|flatmate|cousin|uncle|aunt|niece|nephew|grandma|grandmother|"
    r"grandpa|grandfather|fianc[e\u00e9]e?|lawyer|therapist|coach|student|mentor|assistant|ex|team lead"
)
_TITLES = r"mr|mrs|ms|mx|dr|prof|sir|dame|herr|frau|mme|mlle|sr|sra|srta|se\u00f1or|se\u00f1ora|sig|pan|pani"
_GREETINGS = r"hi|hello|hey|dear|hallo|bonjour|hola|ciao|ol\u00e1|hej|salut|moin|greetings"
_SIGNOFFS = (
    r"(?:best|kind|warm|warmest|with|many) (?:regards|wishes|thanks)|all the best|with love|thanks|"
    r"thank you|cheers|regards|best|sincerely|yours|love|warmly|talk soon|gr\u00fc\u00dfe|cordialement|"
    r"saludos"
)
_SELF = r"i am|i['\u2019]m|this is|ich bin|je suis|soy|sono|sou|ik ben|cc|bcc"

TRIGGER = re.compile(
    rf"\b(?:(?P<strong>{_STRONG})"
    rf"|(?P<rel>my\s+(?:{_RELATIONS})(?:['\u2019]s name is| is called| named| called| is|,)?)"
    rf"|(?P<title>(?:{_TITLES})\.?)|(?P<greet>{_GREETINGS})|(?P<signoff>{_SIGNOFFS})|(?P<self>{_SELF}))"
    r"(?![^\W\d_])[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?",
    re.IGNORECASE,
)
# The last word of every trigger phrase above (lower case): a capitalised word is only checked against the
# full trigger pattern when the word before it is one of these, which keeps the rule cheap on long texts.
_LAST_WORDS_TEXT = """
is name's name me by m'appelle m’appelle est llamo es chiamo e è é chamo heiße heisse ist heet się
imię adım heter hedder on зовут звати from to cc bcc attn signed called named lead manager boss wife
husband son daughter friend colleague coworker co-worker partner girlfriend boyfriend brother sister
mother father mom mum dad teacher doctor landlord landlady neighbor neighbour supervisor client
tenant roommate flatmate cousin uncle aunt niece nephew grandma grandmother grandpa grandfather
fiance fiancé fiancee fiancée lawyer therapist coach student mentor assistant ex mr mrs ms mx dr
prof sir dame herr frau mme mlle sr sra srta señor señora sig pan pani hi hello hey dear hallo
bonjour hola ciao olá hej salut moin greetings regards wishes thanks best love cheers sincerely
yours warmly soon grüße cordialement saludos you am i'm i’m bin suis soy sono sou ben
"""
_LAST_WORDS = frozenset(_LAST_WORDS_TEXT.split())
# Where a name can start: a capital (Latin, Greek, Cyrillic, Armenian) that does not continue a word.
# Only after a gap a trigger can leave (space, tab, line break, comma, colon), and not a sentence start,
# which is where most capitals are; a title's dot ("Dr. Li") is the one full stop let through.
_TITLES_DOTTED = ("Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Sr", "Sra", "Srta", "Mme")
_TITLE_DOTS = "|".join(rf"(?<=\b{t}\. .)" for t in _TITLES_DOTTED)
# The capital comes first in the pattern so that re can skip to capitals; the lookbehinds then look at the
# gap before it.
UPPER = r"[A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017f\u0391-\u03a9\u0400-\u042f\u0531-\u0556]"  # a capital
_UPPER_START = re.compile(
    UPPER + rf"(?:(?<=[ \t\n,:].)(?<![.!?;] .)(?<![.!?;]\n.)|{_TITLE_DOTS})(?=[^\W\d_])"
)
# The same candidates in an ASCII text, found with `bytes.find(b" A")` (a C search) on the text's bytes
# mapped to gap -> " ", capital -> "A", small letter -> "a", anything else -> "."; the lookbehinds above are
# then checked in Python on the hits. Same starts, in the same order (tests/test_names.py compares them).


def _gap_class(b: int) -> int:
    c = chr(b)
    if c in " \t\n,:":
        return ord(" ")
    if "A" <= c <= "Z":
        return ord("A")
    return ord("a") if "a" <= c <= "z" else ord(".")


_GAP_SHAPE = bytes(_gap_class(b) for b in range(256))
_TITLE_ENDINGS = tuple(f"{t}. " for t in _TITLES_DOTTED)


# A letter (as `_UPPER_START` reads letters) outside ASCII. Texts without one, such as English with curly
# quotes, take the ASCII path too: their other characters are neither gaps, letters nor sentence ends, so
# each may stand as one "?" byte there.
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")


def _ascii_upper_starts(text: str) -> list[int]:
    """`m.start()` of every `_UPPER_START` match in a text with no letter outside ASCII, in order."""
    shape = text.encode("ascii", "replace").translate(_GAP_SHAPE)  # one byte per character
    out = []
    i = shape.find(b" A")
    while i >= 0:
        s = i + 1
        if shape[s + 1 : s + 2] in (b"a", b"A"):
            if s >= 2 and text[s - 2] in ".!?;" and text[i] in " \n":
                # a sentence start; only a title's dot ("Dr. Li") lets one through
                if text[i] == " " and text[s - 2] == "." and text.endswith(_TITLE_ENDINGS, 0, s):
                    t = next(t for t in _TITLE_ENDINGS if text.endswith(t, 0, s))
                    b = s - len(t)
                    if b == 0 or not (text[b - 1].isalnum() or text[b - 1] == "_"):
                        out.append(s)
            else:
                out.append(s)
        i = shape.find(b" A", s)
    return out


# Lower-case names are taken only after an explicit introduction ("my name is henrik").
_LOWER_HINTS = ("my name", "call me", "go by")
_LOWER_INTRO = re.compile(
    r"\b(?P<strong>my name is|my name's|call me|i go by)[ \t]+(?=[^\W\d_])", re.IGNORECASE
)
# A name token: letters with inner apostrophes or hyphens (O'Brien, Jean-Luc), or an initial ("J.").
TOKEN = re.compile(rf"[^\W\d_]+(?:[{_APOS}-][^\W\d_]+)*|[^\W\d_]\.(?= )")
_PARTICLES = frozenset(
    [
        "van",
        "von",
        "de",
        "der",
        "den",
        "da",
        "di",
        "del",
        "della",
        "dos",
        "du",
        "le",
        "la",
        "bin",
        "binti",
        "ibn",
        "al",
        "el",
        "ter",
        "ten",
        "zu",
        "y",
    ]
)
_INNER_CAPS = re.compile(rf"^(?:Mc|Mac|O[{_APOS}]|D[{_APOS}]|De|Di|La|Le|Van|Von|Fitz)[A-Z]")
_TITLE_WORD = re.compile(_TITLES, re.IGNORECASE)
_SENTENCE_START = frozenset(".!?:;,(\"'\n\u2014-")
UNCASED = re.compile(
    r"(?:\u6211\u53eb|\u6211\u7684\u540d\u5b57\u662f|\u6211\u540d\u53eb)\s*([\u4e00-\u9fff]{2,3})"  # Chinese
    r"|(?:\u79c1\u306e\u540d\u524d\u306f|\u50d5\u306e\u540d\u524d\u306f)"  # Japanese
    r"\s*([\u3040-\u30ff\u4e00-\u9fff]{2,8})"
    r"|\uc81c \uc774\ub984\uc740\s*([\uac00-\ud7af]{2,4})"  # Korean
    r"|\u0627\u0633\u0645\u064a\s+([\u0621-\u064a]{2,}(?:\s+[\u0621-\u064a]{2,})?)"  # Arabic
    r"|\u092e\u0947\u0930\u093e \u0928\u093e\u092e"  # Hindi
    r"\s+([\u0900-\u097f]{2,}(?:\s+[\u0900-\u097f]{2,})?)"
)
# The first character of each phrase above: a text with none of them cannot match (one C search each,
# where the regex would scan the whole text; tests/test_names.py checks the list against the pattern).
UNCASED_FIRST = "\u6211\u79c1\u50d5\uc81c\u0627\u092e"


def _capitalised(tok: str) -> bool:
    if not tok[0].isupper():
        return False
    rest = tok[1:]
    if rest.isupper() and len(rest) > 1:  # NASA, REDACTED
        return False
    return not any(c.isupper() for c in rest) or bool(_INNER_CAPS.match(tok))


def _in_lexicon(lex: Lexicon, tok: str) -> bool:
    if lex.is_name(tok):
        return True
    parts = re.split(rf"[{_APOS}-]", tok)
    if len(parts) < 2 or not lex.is_name(max(parts, key=len)):
        return False
    return all(lex.is_name(p) or len(p) <= 2 for p in parts)


def _is_code_after(text: str, end: int) -> bool:
    """`JohnSmith.parse`, `Anna_2`, `Grant(`: a token glued to code punctuation is an identifier."""
    nxt = text[end : end + 2]
    return bool(nxt) and (nxt[0] in "_(=[<" or (nxt[0] in "./" and len(nxt) > 1 and nxt[1].isalnum()))


def _at_sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_START


def _particles_then_name(text: str, pos: int) -> bool:
    """'van den Berg': lower-case particles are part of a name only when a capitalised word ends them."""
    while (m := TOKEN.match(text, pos)) is not None and m.group(0).lower() in _PARTICLES:
        if text[m.end() : m.end() + 1] != " ":
            return False
        pos = m.end() + 1
    return m is not None and _capitalised(m.group(0))


def _tokens(text: str, pos: int, limit: int = 4) -> list[tuple[int, int]]:
    """Up to `limit` name-shaped tokens from pos, single-spaced, particles allowed between them."""
    spans: list[tuple[int, int]] = []
    while len(spans) < limit:
        m = TOKEN.match(text, pos)
        if m is None:
            break
        tok = m.group(0)
        if tok.lower() in _PARTICLES and spans and not _particles_then_name(text, m.start()):
            break
        spans.append(m.span())
        if text[m.end() : m.end() + 1] != " ":
            break
        pos = m.end() + 1
    return spans


def _word_start(text: str, end: int) -> int:
    j = text.rfind(" ", 0, end) + 1
    if text[j:end].isalpha():  # the common case, decided in C: a plain word after a space
        return j
    i = end
    while i > 0 and (text[i - 1].isalpha() or text[i - 1] in _APOS or text[i - 1] == "-"):
        i -= 1
    return i


def _trigger_before(text: str, start: int) -> re.Match[str] | None:
    """The trigger that ends exactly at `start`, if any: walk back over the gap (spaces, a comma, a line
    break, a title's dot or a header's colon), check the word there, then try the phrase from up to six
    words back."""
    i = start
    while i > 0 and text[i - 1] in " \t\r\n,":
        i -= 1
    if i > 0 and text[i - 1] in ".:":
        i -= 1
    k = _word_start(text, i)
    if k == i or text[k:i].lower() not in _LAST_WORDS:
        return None
    p, best = k, None
    for _ in range(6):  # the longest phrase wins: "Kind regards," over "regards,"
        m = TRIGGER.match(text, p)
        if m is not None and m.end() == start:
            best = m
        q = p
        while q > 0 and text[q - 1] in " \t":
            q -= 1
        if q == p or q == 0 or p - q > 1:
            break
        p = _word_start(text, q)
    return best


class NameFinder:
    def __init__(self, lex: Lexicon | None = None):
        self.lex = lex or lexicon()

    def spans(self, text: str) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        pos = 0
        for trigger in self._triggers(text):
            if trigger.start() < pos:
                continue
            span = self._after(text, trigger)
            if span is not None:
                found.append(span)
                pos = span[1]
        if not text.isascii() and any(c in text for c in UNCASED_FIRST):
            for m in UNCASED.finditer(text):
                g = next(i for i in range(1, 6) if m.group(i))
                found.append(m.span(g))
        return sorted(found)

    def _triggers(self, text: str) -> list[re.Match[str]]:
        """Trigger matches that end right before a capitalised word (or, after an explicit introduction,
        any word), found from the candidate words back rather than by scanning the text for every phrase."""
        out = []
        if text.isascii() or _NON_ASCII_LETTER.search(text) is None:
            starts = _ascii_upper_starts(text)
        else:
            starts = [m.start() for m in _UPPER_START.finditer(text)]
        for start in starts:
            t = _trigger_before(text, start)
            if t is not None:
                out.append(t)
        lowered = text.lower()
        if "my name" in lowered or "call me" in lowered or "go by" in lowered:  # _LOWER_HINTS
            out += [m for m in _LOWER_INTRO.finditer(text) if text[m.end()].islower()]
            out.sort(key=lambda m: m.start())
        return out

    def _after(self, text: str, m: re.Match[str]) -> tuple[int, int] | None:
        kind = m.lastgroup
        trigger = m.group(kind or 0)
        if kind in ("greet", "signoff", "self") and not self._trigger_ok(text, m, trigger, kind):
            return None
        toks = _tokens(text, m.end())
        if not toks:
            return None
        words = [text[a:b] for a, b in toks]
        n = self._accepted(words, kind or "", text, toks, trigger)
        if n == 0:
            return None
        if kind == "signoff":
            # A sign-off's name is a signature: set off from it ("Cheers,\nAkiko", "Cheers, Miia") or ending
            # its line. "Cheers Mate, that worked" goes on after the word: thanks, not a signature.
            gap = text[m.end(kind) : m.end()]
            if "," not in gap and "\n" not in gap and not self._ends_line(text, toks[n - 1][1]):
                return None
        return toks[0][0], toks[n - 1][1]

    @staticmethod
    def _trigger_ok(text: str, m: re.Match[str], trigger: str, kind: str) -> bool:
        start_ok = _at_sentence_start(text, m.start())
        if kind in ("greet", "signoff") and not start_ok:
            return False
        # Title case mid-sentence ("I Am Sam", "Thank You Notes") is a title, not a self-introduction.
        words = trigger.split()
        return start_ok or not all(w[0].isupper() for w in words[1:] or words)

    def _accepted(
        self, words: list[str], kind: str, text: str, toks: list[tuple[int, int]], trigger: str = ""
    ) -> int:
        """How many of the tokens after a trigger form the name (0: none)."""
        lex = self.lex
        first = words[0]
        if _is_code_after(text, toks[0][1]) or _TITLE_WORD.fullmatch(first):
            return 0  # "Hi Ms. Jacobs": the title is the next trigger, not the name
        if kind == "self" and first.endswith(("'s", "\u2019s")):
            return 0  # "This is Spain's best beach": a possessive, not a self-introduction
        if kind == "strong":
            ok = (_capitalised(first) and (first.lower() not in lex.common or _in_lexicon(lex, first))) or (
                first.islower() and lex.is_unambiguous_name(first.capitalize())
            )
        elif kind == "rel":  # "my sister Rola": capitalised mid-sentence after a relation is a name
            ok = _capitalised(first)
        elif kind == "title":  # "Mrs Doubtfire", "Mr. Robot": a lexicon name, or a first and a last name
            ok = _capitalised(first) and (
                _in_lexicon(lex, first)
                or (len(words) > 1 and _capitalised(words[1]) and words[1].lower() not in lex.common)
            )
            # An honorific goes with a surname: alone after one, a word known only as a given name is a
            # brand or a character ("Dr Pepper", "Miss Kitty"), not how anyone is addressed.
            if ok and first in lex.first and first not in lex.last and not self._more_name(words, text, toks):
                ok = False
        elif not _capitalised(first):
            ok = False
        elif _in_lexicon(lex, first):
            ok = first.lower() not in lex.common or self._ambiguous_ok(words, kind, text, toks)
            # "Hello Kitty turned 50": after a greeting, the name is set off by punctuation or has a surname.
            if ok and kind == "greet":
                ok = self._clause_ends(text, toks[0][1]) or (len(words) > 1 and _in_lexicon(lex, words[1]))
        else:  # a capitalised word the lexicon does not know: a surname must follow, or the clause must end
            ok = first.lower() not in lex.common and (
                (len(words) > 1 and words[1] in lex.last) or self._clause_ends(text, toks[0][1])
            )
            # "Dear" opens a letter, whose salutation has its own line ("Dear Ms Ito,\n"): an unknown word
            # after it that the sentence goes on from ("Dear Diary, today was long") addresses a thing.
            # (Chat greetings are different: "Hey Rajna, the build is broken" is a name.)
            if ok and trigger.lower() == "dear" and not (len(words) > 1 and words[1] in lex.last):
                ok = not self._comma_then_more(text, toks[0][1])
        if not ok:
            return 0
        n = 1
        # After a sure first word, an unknown capitalised word goes on the name ("Nahla Wojniak").
        lenient = kind in ("strong", "rel", "title") or _in_lexicon(lex, first)
        for word, (_, end) in zip(words[1:], toks[1:], strict=True):
            if word.lower() in _PARTICLES:
                n += 1
                continue
            if not _capitalised(word) or _is_code_after(text, end):
                break
            if not (_in_lexicon(lex, word) or (lenient and word.lower() not in lex.common)):
                break
            n += 1
        while n > 1 and words[n - 1].lower() in _PARTICLES:
            n -= 1
        return n

    def _more_name(self, words: list[str], text: str, toks: list[tuple[int, int]]) -> bool:
        """A capitalised second word that can go on a name (a surname, or a word no list calls common)."""
        if len(words) < 2 or not _capitalised(words[1]) or _is_code_after(text, toks[1][1]):
            return False
        return words[1] in self.lex.last or words[1].lower() not in self.lex.common

    @staticmethod
    def _ends_line(text: str, end: int) -> bool:
        nl = text.find("\n", end)
        rest = text[end : nl if nl >= 0 else len(text)]
        return not rest.strip(" \t\r.,!?")

    @staticmethod
    def _comma_then_more(text: str, end: int) -> bool:
        """`X, more words` on the same line (rather than `X,` ending it)."""
        if text[end : end + 1] != ",":
            return False
        nl = text.find("\n", end)
        return bool(text[end + 1 : nl if nl >= 0 else len(text)].strip(" \t\r"))

    @staticmethod
    def _clause_ends(text: str, end: int) -> bool:
        """'Hi Nikolay,' / 'I'm Makoto and ...' / 'Thanks,\nAkiko': the word stands alone as an address."""
        rest = text[end : end + 6]
        return not rest or rest[0] in ",!.\n" or rest.startswith((" and ", " from ", " here"))

    def _ambiguous_ok(self, words: list[str], kind: str, text: str, toks: list[tuple[int, int]]) -> bool:
        """'Will', 'May', 'Rose' after a weak trigger: a surname must follow, or a comma after a greeting."""
        if len(words) > 1 and _capitalised(words[1]) and words[1] in self.lex.last:
            return True
        after = text[toks[0][1] : toks[0][1] + 1]
        return kind in ("greet", "signoff") and (after in (",", "!", "\n") or not after)


_finder: NameFinder | None = None


def find_names(text: str) -> list[tuple[int, int]]:
    """Spans of person names in text (the lexicon is loaded on first use)."""
    global _finder
    if _finder is None:
        _finder = NameFinder()
    return _finder.spans(text)
