"""Names to comparison forms: case, accents, punctuation, @handles and #hashtags, titles, possessives.

``name_form(name, etype)`` is the one entry point; it returns a :class:`NameForm`:

- ``norm``: the resolution normal form, tokens joined by one space (``"@LouvreMuseum"`` ->
  ``"louvre museum"``, ``"President Trump's"`` -> ``"trump"``, ``"U.S."`` -> ``"us"``). Mentions of one
  type with the same ``norm`` are one *name node*: they merge without further evidence.
- ``compact``: ``norm`` without spaces (``"kimjongun"``): ties a handle that did not segment well to
  the name it spells.
- ``acronym``: the initials of a name of two or more content words (``"united states"`` -> ``"us"``).
- ``handle``: the name was written as an @handle or a #hashtag.

Pure functions, no state but a lazily loaded word-frequency table (``wordsegment``) used only for
lower-case handles that have no camel case to split on.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional, Tuple

# Leading titles dropped from person names (only when something is left). Lower case, no dots.
# Not a monarch's or a pope's: those stand before a given name, which alone names many ("Prince
# Harry" is no "Harry"; read in the merges of 2,000 raw Twitter posts, docs/resolution.md).
TITLES = frozenset(
    "mr mrs ms miss mx dr doctor prof professor sir dame lord lady president pres vice vp senator sen "
    "rep representative congressman congresswoman gov governor mayor minister pm prime chancellor "
    "secretary rev reverend fr father gen general col colonel capt "
    "captain lt sgt coach judge justice chairman ceo mister madam".split()
)
# Words that do not make an acronym's letters ("Bank of America" -> "ba", "boa" also kept).
ACRONYM_SKIP = frozenset("of the and for de la le du des del da di in on at to a an &".split())

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_POSSESSIVE = re.compile(r"(?<=\w)['’](s\b)?$|(?<=\w)['’]s(?=\s)", re.IGNORECASE)
_DROP = re.compile(r"['’`´.]")  # joined, not split: U.S. -> us, O'Neal -> oneal
_SPLIT = re.compile(r"[^0-9a-z&]+")


@dataclass(frozen=True)
class NameForm:
    """What resolution compares of a name. ``tokens`` is ``norm.split()``."""

    norm: str
    tokens: Tuple[str, ...]
    compact: str
    acronym: str
    handle: bool

    @property
    def empty(self) -> bool:
        return not self.tokens


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _segmenter():
    try:
        import wordsegment
    except ImportError:  # optional at import time; the camel-case split still works
        return None
    wordsegment.load()
    return wordsegment


def _segment_lower(chunk: str) -> List[str]:
    """``louvremuseum`` -> ``[louvre, museum]``; kept whole when the table has no better split or
    when a piece would be shorter than three letters (``nytimes`` stays one word)."""
    if len(chunk) < 6 or not chunk.isalpha():
        return [chunk]
    seg = _segmenter()
    if seg is None:
        return [chunk]
    words = seg.segment(chunk)
    if len(words) < 2 or any(len(w) < 3 for w in words) or "".join(words) != chunk:
        return [chunk]
    return words


@lru_cache(maxsize=65536)
def split_handle(body: str) -> Tuple[str, ...]:
    """The words of a handle or hashtag body (without its sigil): ``LouvreMuseum`` ->
    ``(louvre, museum)``, ``realDonaldTrump`` -> ``(real, donald, trump)``, ``NYTimes`` ->
    ``(ny, times)``, ``louvremuseum`` -> ``(louvre, museum)``, ``NBA`` -> ``(nba,)``."""
    body = strip_accents(unicodedata.normalize("NFKC", body))
    words: List[str] = []
    for part in re.split(r"[_\W]+", body):
        if not part:
            continue
        pieces = _CAMEL.findall(part) or [part]
        for piece in pieces:
            low = piece.lower()
            words.extend(_segment_lower(low) if piece.islower() else [low])
    return tuple(w for w in words if w)


def _plain_tokens(text: str) -> List[str]:
    # A handle inside a longer name ("C.P @RahulGandhi") is split like a handle alone.
    if "@" in text or "#" in text:
        text = " ".join(" ".join(split_handle(w[1:])) if w[:1] in "@#" and len(w) > 1 else w
                        for w in text.split())
    text = strip_accents(unicodedata.normalize("NFKC", text)).casefold()
    text = _POSSESSIVE.sub("", text.strip())
    text = _DROP.sub("", text)
    return [t for t in _SPLIT.split(text) if t and t != "&"]


def _acronym(tokens: Tuple[str, ...]) -> str:
    content = [t for t in tokens if t not in ACRONYM_SKIP]
    if len(content) < 2:
        return ""
    return "".join(t[0] for t in content)


# One word of letters and digits joined by underscores ("BR_NFL", "Festival_Cannes"): no name is
# written so but an account's, whose @ a retweet chain or a tokeniser dropped.
_BARE_HANDLE = re.compile(r"^[^\W_]+(?:_+[^\W_]+)+$")


def is_hashtag(name: str) -> bool:
    return str(name).lstrip().startswith("#")


@lru_cache(maxsize=262144)
def name_form(name: str, etype: Optional[str] = None) -> NameForm:
    """The comparison form of a mention's name; ``etype`` (PER, ORG, LOC, MISC) decides whether
    leading titles are dropped (persons only: "President Hotel" is a hotel; and not from a handle,
    whose words are the account's chosen name: "@KingJames" is not every "James")."""
    raw = " ".join(unicodedata.normalize("NFKC", str(name)).split())
    if raw.startswith(".@"):  # ".@user": the dot keeps a reply's handle visible to all followers
        raw = raw[1:]
    handle = False
    body = raw
    if raw[:1] in "@#" and len(raw) > 1:
        handle = True
        body = raw[1:].strip()
    elif _BARE_HANDLE.match(raw):  # "RT BR_NFL :", "@ Rocket_Baseball": a handle whose @ was lost
        handle = True
    one_handle = handle and " " not in body
    if one_handle:
        tokens = list(split_handle(body))
        tokens = [t for t in _plain_tokens(" ".join(tokens))]
    else:
        tokens = _plain_tokens(body)
    if etype == "PER" and not one_handle:
        while len(tokens) > 1 and tokens[0] in TITLES:
            tokens.pop(0)
    if len(tokens) > 1 and tokens[0] == "the":
        tokens.pop(0)
    # A trailing "s" split off by the tokeniser's possessive ("Libya 's" arrives as one name rarely,
    # "Trump s" after _DROP) is noise.
    if len(tokens) > 1 and tokens[-1] == "s":
        tokens.pop()
    toks = tuple(tokens)
    norm = " ".join(toks)
    return NameForm(norm=norm, tokens=toks, compact="".join(toks), acronym=_acronym(toks), handle=handle)


def normalise(name: str, etype: Optional[str] = None) -> str:
    """Just the normal form (see :func:`name_form`)."""
    return name_form(name, etype).norm
