"""An @handle that spells a name of its own post is that name's account: it takes the name's type.

The student leaves most @mentions untagged; they are candidates (``ner-candidate``), which reach
the graph only as the end of a triple, so ``@LouvreMuseum`` beside ``The Louvre`` was never tied
to it. Read on 17,383 posts (MNRE and Twitter-2015/2017, train and valid; docs/resolution.md):
- a handle with the same letters as a name of its post (``@GregoryPorter`` / ``Gregory Porter``,
  ``@TheSun`` / ``The Sun``) named the same thing in nearly every case;
- a handle that only begins or ends with a name mostly did not: sub-accounts and namesakes
  (``@NYC_DOT``, ``@NASA_EO``, ``@InfoGeneva``, ``@PortOfRotterdam``, ``@RealMadrid``);
- the exceptions were a name with a word that says what it is (``@CharlestownFilm``,
  ``@OfficialRCTI``) or a person's account convention (``@realDonaldTrump``).
So only those forms are read as the name's account; everything else stays a candidate. Pure
functions; the Beam step is transforms.ner.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, Optional, Sequence, Tuple

from mmkg.resolve.accounts import spells_account
from mmkg.resolve.normalise import name_form
from mmkg.schemas.records import NER, NER_CANDIDATE, EntityMention


def spells(handle: str, name: str, etype: str) -> bool:
    """Whether ``handle`` (with its @) is written as an account of ``name`` of type ``etype``."""
    return spells_account(name_form(handle).compact, name_form(name, etype).compact, etype)


def name_of_handle(handle: EntityMention, mentions: Sequence[EntityMention]) -> Optional[EntityMention]:
    """The typed mention of the post that ``handle`` is an account of; None when there is none or
    when names of different types claim it."""
    claims = [m for m in mentions
              if m.source != NER_CANDIDATE and m.type and not (m.start < handle.end and handle.start < m.end)
              and spells(handle.text, m.text, m.type)]
    if len({m.type for m in claims}) != 1:
        return None
    return claims[0]


def type_handles(mentions: Sequence[EntityMention]) -> Tuple[Tuple[EntityMention, ...], int]:
    """The post's mentions with every candidate @handle that spells one of its names typed as that
    name (and no longer a candidate), and how many were."""
    typed: Dict[int, EntityMention] = {}
    for i, m in enumerate(mentions):
        if m.source == NER_CANDIDATE and m.type is None and m.text.startswith("@"):
            name = name_of_handle(m, mentions)
            if name is not None:
                typed[i] = replace(m, type=name.type, source=NER)
    return tuple(typed.get(i, m) for i, m in enumerate(mentions)), len(typed)
