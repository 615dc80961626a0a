"""How an account's @handle is written from the name it stands for.

Read on 17,383 posts (MNRE and Twitter-2015/2017, train and valid; docs/resolution.md): a handle
with the letters of a name (``@GregoryPorter`` / ``Gregory Porter``) is that name's account in
nearly every case, and so is one that adds a word saying what the name is (``@CharlestownFilm``,
``@OfficialRCTI``, ``@LouvreMuseum``) or a person's account convention (``@realDonaldTrump``); one
that adds anything else mostly is another account (``@NYC_DOT``, ``@RealMadrid``). Used by the NER
step to type handles (``ner.handles``) and by resolution to link them (``resolve.scoring``).
"""
from __future__ import annotations

# Words an account adds to the name it stands for, before or after it. A place is not among the
# names they extend: "@RealMadrid" is no account of Madrid, nor "@MadridFC".
DESIGNATOR_SUFFIXES = {
    "official": ("PER", "ORG", "MISC"), "hq": ("ORG",), "museum": ("LOC", "ORG"), "film": ("MISC",),
    "movie": ("MISC",),
    # K-pop acts' official accounts (``@BTS_twt``: 59 times in the corpus beside "BTS").
    "twt": ("PER", "ORG"),
}
DESIGNATOR_PREFIXES = {"official": ("PER", "ORG", "MISC"), "real": ("PER",), "iam": ("PER",)}
# Shorter names spell too many handles by chance ("@USA" and "US" are not the point).
MIN_LETTERS = 3


def spells_account(handle_letters: str, name_letters: str, etype: str) -> bool:
    """Whether a handle of these letters (lower case, no spaces) is written as an account of a name
    of these letters and type ``etype``."""
    h, n = handle_letters, name_letters
    if len(n) < MIN_LETTERS or not h:
        return False
    if h == n:
        return True
    for word, types in DESIGNATOR_SUFFIXES.items():
        if etype in types and h == n + word:
            return True
    for word, types in DESIGNATOR_PREFIXES.items():
        if etype in types and h == word + n:
            return True
    return False
