"""Short forms of a person's name inside one post: "Demi is winning! ... Demi Lovato".

Within one post, a person written first in full and then by part of the name is one person; this is
the within-document step that cross-document coreference starts from (Bagga and Baldwin, 1998).
So such a mention belongs to the longer name's node, for its post only: "Kim" in a post that also
names "Kim Kardashian" is hers, whatever the other posts' bare "Kim" turns out to be. For the bare
name at large that post is one shared post with the full name (``scoring.context_features``), and
its other names are not shared context: one post's company says little of every other post's "Kim".

Persons only. Read on the labelled pairs (docs/resolution.md): for other types a name inside a
longer one of the same post is mostly another thing ("Berlin" / "Berlin Wall", "Earth" / "Earth
Day", "Tempe" / "Tempe Beach Park"), 34 wrong links of 40 on the train pairs; for persons none
was wrong on either set.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from mmkg.resolve.normalise import NameForm, is_hashtag, name_form
from mmkg.resolve.scoring import part_of

PERSON = "PER"


def stands_for(names: Sequence[Tuple[str, str]]) -> List[str]:
    """For each (name, type) of one post, the normal form of the longer person name of the same
    post that it is a short form of, or "".

    A short form needs one longer name to stand for: "Kim" beside "Kim Jong Un" and "Kim
    Kardashian" stands for neither. Longer names that are themselves short forms of a longest one
    ("Trump", "Donald Trump", "Donald J Trump") all go to the longest."""
    forms = [name_form(n, t) if t == PERSON else None for n, t in names]
    # A hashtag that adds words to a person's name is a campaign or a topic ("#BlatterOut",
    # "#Trump2016"), no longer way of writing the person: nothing stands for it (read in the merges
    # of 2,000 raw Twitter posts, docs/resolution.md).
    targets = [g if g is not None and not is_hashtag(n) else None
               for g, (n, _) in zip(forms, names)]
    out = []
    for f in forms:
        target = ""
        if f is not None and f.tokens:
            mine = set(f.tokens)
            # Every longer name with its words counts as a person it could be ("Trump" beside "Donald
            # Trump" and "Donald Trump Jr"), even one it cannot be a short form of.
            longer = {g.norm: g for g in targets if g is not None and mine < set(g.tokens)}
            top = [g for g in longer.values() if not any(_short_form(g, h) for h in longer.values())]
            if (len(top) == 1 and part_of(f.tokens, top[0].tokens, PERSON)
                    and all(g is top[0] or _short_form(g, top[0]) for g in longer.values())):
                target = top[0].norm
        out.append(target)
    return out


def _short_form(g: NameForm, h: NameForm) -> bool:
    return set(g.tokens) < set(h.tokens) and part_of(g.tokens, h.tokens, PERSON)
