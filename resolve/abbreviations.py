"""Abbreviations of places that are unambiguous enough to merge without context: the US states'
postal codes and a few cities posts abbreviate ("NJ" / "New Jersey", "#nyc" / "New York City").

Only for LOC, and only where the code stands for one place: "LA" is Los Angeles and Louisiana, so
it is in neither table and, as any other initials, joins a name on context only (``scoring``). A
code must be written in capitals or as a hashtag or handle (``is_code``), so that a place the NER
types LOC in "Portland, OR" is Oregon but a lower-case "or" never is. Codes of countries are left
out: "US" is also the pronoun in a post written in capitals, which the labelled pairs show.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Iterable

PLACE = "LOC"

_US_STATES = {
    "al": "alabama", "ak": "alaska", "az": "arizona", "ar": "arkansas", "ca": "california", "co": "colorado",
    "ct": "connecticut", "de": "delaware", "fl": "florida", "hi": "hawaii", "id": "idaho",
    "il": "illinois", "in": "indiana", "ia": "iowa", "ks": "kansas", "ky": "kentucky", "me": "maine",
    "md": "maryland", "ma": "massachusetts", "mi": "michigan", "mn": "minnesota", "ms": "mississippi",
    "mo": "missouri", "mt": "montana", "ne": "nebraska", "nv": "nevada", "nh": "new hampshire",
    "nj": "new jersey", "nm": "new mexico", "ny": "new york", "nc": "north carolina", "nd": "north dakota",
    "oh": "ohio", "ok": "oklahoma", "or": "oregon", "pa": "pennsylvania", "ri": "rhode island",
    "sc": "south carolina", "sd": "south dakota", "tn": "tennessee", "tx": "texas", "ut": "utah",
    "vt": "vermont", "va": "virginia", "wv": "west virginia", "wi": "wisconsin",
    "wy": "wyoming",
}
# Not "ga" and "wa": their names are also another place's (Georgia the country, Washington the
# capital), so the code would join a node that holds both.
# Cities, each code to the normal forms of one place. Not "la" (Louisiana), "sa" (South Africa,
# San Antonio, South Australia), "ny" (the state above).
_CITIES = {
    "nyc": ("new york city",),
    "sf": ("san francisco",),
    "dc": ("washington dc", "district of columbia", "washington d c"),
}


def _table() -> Dict[str, FrozenSet[str]]:
    out: Dict[str, FrozenSet[str]] = {k: frozenset((v,)) for k, v in _US_STATES.items()}
    for k, v in _CITIES.items():
        out[k] = out.get(k, frozenset()) | frozenset(v)
    return out


KNOWN: Dict[str, FrozenSet[str]] = _table()
FULL_NAMES: FrozenSet[str] = frozenset(n for names in KNOWN.values() for n in names)


def is_code(surfaces: Iterable[str]) -> bool:
    """Whether every way a name was written is a code: capitals ("NJ", "N.J.") or a tag ("#nyc")."""
    ok = False
    for s in surfaces:
        s = s.strip()
        if s[:1] in "@#":
            ok = True
            continue
        letters = [c for c in s if c.isalpha()]
        if not letters or not all(c.isupper() for c in letters):
            return False
        ok = True
    return ok


def expansions(code: str) -> FrozenSet[str]:
    """The normal forms of the place a code (its letters, lower case) stands for; empty if none."""
    return KNOWN.get(code, frozenset())
