"""Words of a post as the NER student sees them, with character offsets into the original text.

Tweets come untokenised: ``RT @user: Obama's #Bears https://t.co/x 🔥``. The student was trained
on the Twitter-2015/2017 token conventions, so raw text is cut the same way: a URL, an
``@mention`` and an emoji sequence are one word each, ``#tag`` is ``#`` + ``tag`` (Twitter-2017's
and MNRE's convention, and the graph wants the entity without its ``#``), a possessive ``'s`` is
its own word, punctuation is split off. Already tokenised text (MNRE's space-separated tokens)
comes out as the same tokens, because every rule only ever splits at or inside whitespace-free
runs.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List, Sequence, Tuple


@dataclass(frozen=True)
class Word:
    text: str
    start: int  # [start, end) into the post's text
    end: int


_TOKEN = re.compile(
    r"""
    (?P<url>(?:https?://|www\.)\S+)
  | (?P<mention>@\w+)
  | (?P<hash>\#)(?=\w)
  | (?P<abbrev>(?:[^\W\d_]\.){2,})
  | (?P<word>\w+(?:[-&]\w+)*(?:['’](?![sS]\b)\w+)?)
  | (?P<possessive>['’][sS]\b)
  | (?P<other>\S)
    """,
    re.VERBOSE | re.UNICODE,
)

# Format and control characters (zero-width joiners, bidi marks, BOMs) are not words and are
# dropped; the spans of the words around them stay exact.
_INVISIBLE = {"Cf", "Cc", "Cs", "Co", "Cn"}


def _visible(ch: str) -> bool:
    return unicodedata.category(ch) not in _INVISIBLE


def tokenize(text: str) -> List[Word]:
    """The words of ``text`` in order; ``text[w.start:w.end] == w.text`` for every word."""
    words: List[Word] = []
    for m in _TOKEN.finditer(text):
        piece = m.group(0)
        if m.lastgroup == "other":
            if not _visible(piece):
                continue
            # A run of emoji / symbols with their modifiers is one word, not one per code point.
            if words and _is_symbol(piece) and words[-1].end == m.start() and _is_symbol(words[-1].text[-1]):
                prev = words.pop()
                words.append(Word(text[prev.start : m.end()], prev.start, m.end()))
                continue
        words.append(Word(piece, m.start(), m.end()))
    return words


def _is_symbol(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Mn", "Me")


def words_from_tokens(tokens: Sequence[str]) -> Tuple[str, List[Word]]:
    """Pre-tokenised input (CoNLL, MNRE) as a text joined by single spaces plus its words."""
    words, pos = [], 0
    for tok in tokens:
        words.append(Word(tok, pos, pos + len(tok)))
        pos += len(tok) + 1
    return " ".join(tokens), words
