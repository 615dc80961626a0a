"""Candidate negatives for the guide: the training posts read as raw posts, every candidate pair
that overlaps no annotated pair labelled None, a seeded share of them kept."""
from __future__ import annotations

from mmkg.guide.training.candidates import sample_share, unannotated_candidates
from mmkg.schemas.records import EntityMention, EntityPair

TEXT = "RT @news : Lionel Messi and Luis Suarez play for Barcelona in Spain"


def span(surface, etype=None):
    s = TEXT.index(surface)
    return EntityMention(surface, s, s + len(surface), etype)


def detect(texts):
    # What a tagger returns for this post: four names and the retweet source.
    return [[span("RT @news", "ORG"), span("Lionel Messi", "PER"), span("Luis Suarez", "PER"),
             span("Barcelona", "ORG"), span("Spain", "LOC")] for _ in texts]


def test_unannotated_candidates_exclude_annotated_pairs_and_retweet_sources():
    annotated = [EntityPair("p", TEXT, span("Lionel Messi"), span("Barcelona"), gold="/per/org/member_of"),
                 EntityPair("p", TEXT, span("Luis Suarez"), span("Lionel Messi"), gold="/per/per/peer")]
    cands = unannotated_candidates(annotated, detect)
    got = {(c.head.text, c.tail.text) for c in cands}
    assert all(c.gold == "None" and c.post_id == "p" for c in cands)
    # Neither annotated pair comes back, in either direction; the retweet source is no entity.
    assert not got & {("Lionel Messi", "Barcelona"), ("Barcelona", "Lionel Messi"),
                      ("Luis Suarez", "Lionel Messi"), ("Lionel Messi", "Luis Suarez")}
    assert not any("RT" in h or "RT" in t for h, t in got)
    assert ("Luis Suarez", "Barcelona") in got and ("Barcelona", "Spain") in got


def test_the_share_is_seeded_and_proportional():
    cands = [EntityPair(str(i), TEXT, span("Lionel Messi"), span("Spain"), gold="None") for i in range(2000)]
    a, b = sample_share(cands, 0.25, seed=13), sample_share(cands, 0.25, seed=13)
    assert a == b and 400 < len(a) < 600 and sample_share(cands, 1.0, 0) == cands
