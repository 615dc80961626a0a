"""Which detected spans are entities: the retweet prefix is provenance, and pronouns, function
words, punctuation, HTML entities, clitics and cut names are never entities.

A blind reading of the graph built from held-out raw posts found 38 % of its triples with a
retweet source ("RT @thehill") as an argument, and entities such as ``HE``, ``.``, ``n't``,
``& amp``, ``Treaty of``. Pure functions over a post's text and its detected mentions; the Beam
step that applies them is transforms.ner. Mentions given in the input are the user's and are not
touched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

from mmkg.ner.tokens import tokenize
from mmkg.schemas.records import NER, NER_CANDIDATE, EntityMention
from mmkg.schemas.retweets import retweet_spans

_HTML_ENTITY = re.compile(r"^&\s*#?\w+\s*;?$")
_CLITIC = re.compile(r"^(n't|'s|'re|'ve|'ll|'d|'m|s)$", re.IGNORECASE)

# Closed-class words that a tagger on noisy text now and then marks (often in capitals: "HE",
# "ME"). A name is never one of them alone.
_FUNCTION_WORDS = frozenset("""
i me my mine myself you your yours yourself he him his himself she her hers herself it its itself we us
our ours ourselves they them their theirs themselves this that these those who whom whose which what
there here the a an of and or but nor so yet to in on at for with by from as into onto about over under
after before since until than then is are was were be been being am do does did have has had not no yes
rt via amp http https www com
""".split())
# A name does not end on these (``Treaty of``, ``Bank of the``) nor start on the connecting ones.
_OPEN_ENDINGS = frozenset({"of", "the", "and", "&", "for", "de", "la", "le", "du", "von", "van", "del", "a", "an",
                           "to", "in", "on", "at", "'s", "-", "–"})
_OPEN_STARTS = frozenset({"of", "and", "&", "'s", "n't", "-", "–"})
_CUT_AFTER_OF = re.compile(r"\b[A-Z][\w'-]*\s+of\s+$")


@dataclass(frozen=True)
class Dropped:
    """A detected span that is not an entity, with why (counted per reason in a run)."""

    mention: EntityMention
    reason: str


RETWEET_SOURCE = "retweet source"
NOT_A_NAME = "pronoun or function word"
PUNCTUATION = "punctuation"
HTML_ENTITY = "HTML entity"
CLITIC = "clitic"
CUT_NAME = "cut name"
COMMON_WORD = "lower-case common word"
TOO_SHORT = "too short"
REASONS = (RETWEET_SOURCE, NOT_A_NAME, PUNCTUATION, HTML_ENTITY, CLITIC, CUT_NAME, COMMON_WORD, TOO_SHORT)


def _to_word_bounds(text: str, start: int, end: int) -> Tuple[int, int]:
    """A span that starts or ends inside a word grows to the word's edges: a name is extended,
    never cut."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


def why_not_an_entity(text: str, mention: EntityMention, retweets: Sequence[Tuple[int, int, str]]) -> Optional[str]:
    """None when ``mention`` may be an entity; else the reason (one of REASONS)."""
    if any(s < mention.end and mention.start < e for s, e, _ in retweets):
        return RETWEET_SOURCE
    surface = mention.text.strip()
    bare = surface.lstrip("#@").strip()
    words = surface.lower().split()
    if not any(c.isalnum() for c in surface):
        return PUNCTUATION
    if _HTML_ENTITY.match(surface) or surface.lower().replace(" ", "") in ("&amp", "&amp;", "&lt;", "&gt;"):
        return HTML_ENTITY
    if _CLITIC.match(surface):
        return CLITIC
    # "US" in capitals is the country; "HE", "ME" in capitals are still pronouns.
    if bare != "US" and (bare.lower() in _FUNCTION_WORDS or all(w in _FUNCTION_WORDS for w in words)):
        return NOT_A_NAME
    if words and (words[-1] in _OPEN_ENDINGS or words[0] in _OPEN_STARTS):
        return CUT_NAME
    # "the Year" of "Album of the Year": the tail of a longer name, cut after its "of".
    if len(words) == 2 and surface.startswith("the ") and _CUT_AFTER_OF.search(text[:mention.start]):
        return CUT_NAME
    # One lower-case word that is no handle or hashtag ("ball", "boba"): names are written with a
    # capital. On the evaluation set 10 of the 15 such spans the student tagged were common words,
    # and 2 of the 5 names among them were hashtags (MNRE writes "# michaelchall"), kept here.
    hashtag = text[max(0, mention.start - 2):mention.start].strip() == "#"
    if len(words) == 1 and surface.isalpha() and surface.islower() and not hashtag:
        return COMMON_WORD
    # One letter is never a name; two only as an acronym (US, UK, EU, UN), not a cut word ("Un").
    if len(bare) < 2 or (len(bare) == 2 and not bare.isupper()):
        return TOO_SHORT
    return None


_TRAILING_ENTITY = re.compile(r"\s*&\s*(amp|lt|gt|quot)\s*;?\s*$", re.IGNORECASE)


def _without_trailing_entity(text: str, m: EntityMention) -> EntityMention:
    """"Kovacic & amp" is "Kovacic": an HTML entity the tokeniser split is no part of a name."""
    found = _TRAILING_ENTITY.search(m.text)
    if not found or found.start() == 0:
        return m
    end = m.start + found.start()
    return replace(m, end=end, text=text[m.start:end])


# "St . Gallen", "Mt . Airy", "Saint - Tropez" (tweets tokenised as the corpora are; "St. Gallen"
# raw): the tagger often takes the word after the abbreviation alone, or the two halves apart.
_NAME_PREFIX = re.compile(r"\b(?:(?:St|Ste|Mt|Ft)\s?\.|(?:Saint|Sainte|St|Ste)\s?[-–])\s?$")
# The abbreviation starts the name only where no capitalised word or number comes before it:
# "2400 Allen St. Dallas" and "5th St. Paris" are a street and then a city.
_STARTS_A_NAME = re.compile(r"(?:^|[^\w\s]\s*|\b[a-z][\w'’]*\s+)$")


def _with_whole_name(text: str, m: EntityMention) -> EntityMention:
    """A name cut after an abbreviated first word grows over it: "Gallen" after ". . St ." is
    "St . Gallen"."""
    before = _NAME_PREFIX.search(text[:m.start])
    if not before or not _STARTS_A_NAME.search(text[:before.start()]):
        return m
    return replace(m, start=before.start(), text=text[before.start():m.end])


def _absorb_overlaps(mentions: List[Tuple[EntityMention, bool]], text: str) -> List[EntityMention]:
    """The mentions in their order, a span given twice once; a span grown over an abbreviation
    (flag True) takes in the spans it now overlaps (the other half of a name the tagger split),
    with the longer half's type."""
    out: List[EntityMention] = []
    grown: List[bool] = []
    for m, extended in mentions:
        i = next((j for j, o in enumerate(out) if (o.start, o.end) == (m.start, m.end)
                  or ((extended or grown[j]) and m.start < o.end and o.start < m.end)), None)
        if i is None:
            out.append(m)
            grown.append(extended)
            continue
        o = out[i]
        start, end = min(o.start, m.start), max(o.end, m.end)
        if (start, end) != (o.start, o.end):
            longer = m if m.end - m.start > o.end - o.start else o
            out[i] = replace(longer, start=start, end=end, text=text[start:end])
        grown[i] = grown[i] or extended
    return out


def clean_mentions(text: str, mentions: Sequence[EntityMention]) -> Tuple[Tuple[EntityMention, ...], Tuple[Dropped, ...]]:
    """The mentions that are entities (spans moved to word boundaries and over an abbreviated
    first word, duplicates and overlaps that this creates merged), and the dropped ones with their
    reasons."""
    retweets = retweet_spans(text)
    kept: List[Tuple[EntityMention, bool]] = []
    dropped: List[Dropped] = []
    for m in mentions:
        start, end = _to_word_bounds(text, m.start, m.end)
        if (start, end) != (m.start, m.end):
            m = replace(m, start=start, end=end, text=text[start:end])
        m = _without_trailing_entity(text, m)
        whole = _with_whole_name(text, m)
        reason = why_not_an_entity(text, whole, retweets)
        if reason is not None:
            dropped.append(Dropped(whole, reason))
        else:
            kept.append((whole, whole is not m))
    return tuple(_absorb_overlaps(kept, text)), tuple(dropped)


def mentions_from_spans(text: str, spans, candidates=(), mentions: bool = False) -> tuple:
    """The student's spans (source ``ner``), then its extra candidates and, with ``mentions``,
    the @mentions it left untagged, but for a retweet's source (source ``ner-candidate``; the graph records those only
    where a triple uses them)."""
    out = [EntityMention(text=text[s:e], start=s, end=e, type=t, source=NER) for s, e, t in spans]
    out += [EntityMention(text=text[s:e], start=s, end=e, type=t, source=NER_CANDIDATE) for s, e, t in candidates]
    if mentions:
        taken = {(m.start, m.end) for m in out}
        words = tokenize(text)
        for i, w in enumerate(words):
            # "RT @user:" names who retweeted, not what the post is about: on MNRE val 859 of the
            # 1,053 @mentions are such sources and 4 of the 45 gold facts with a mention use one.
            retweet_source = i > 0 and words[i - 1].text.upper() == "RT"
            if w.text.startswith("@") and len(w.text) > 1 and not retweet_source and (w.start, w.end) not in taken:
                out.append(EntityMention(text=w.text, start=w.start, end=w.end, type=None, source=NER_CANDIDATE))
    return tuple(out)
