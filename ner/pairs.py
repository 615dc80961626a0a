"""Entity pairs: the ordered (head, tail) combinations of a post's entities that stage 1 scores.
Pure; the Beam step is transforms.pairs, and guide training enumerates candidates the same way."""
from __future__ import annotations

from typing import List, Optional

from mmkg.schemas.records import EntityPair, Post
from mmkg.schemas.relations import allowed_type_pairs

_ALLOWED = allowed_type_pairs()
# Ordered pairs grow with the square of a post's entities (14 hostile posts once gave 1,284):
# a post keeps its nearest pairs up to this bound.
DEFAULT_MAX_PAIRS_PER_POST = 24


def type_pair_allowed(head_type, tail_type) -> bool:
    """True when some relation label allows this (head, tail) type pair; unknown types allow all."""
    if head_type is None or tail_type is None:
        return True
    return (head_type, tail_type) in _ALLOWED


def _gap(pair: EntityPair) -> int:
    """Characters between the two mentions: related entities of a post tend to stand close."""
    h, t = pair.head, pair.tail
    return max(h.start, t.start) - min(h.end, t.end)


def enumerate_pairs(post: Post, max_pairs: Optional[int] = None) -> List[EntityPair]:
    """Annotated pairs as given (so evaluation sees the benchmark's pairs); otherwise every ordered
    pair of distinct entities whose types some relation allows, the ``max_pairs`` nearest when
    there are more (ties in text order, so the cut is deterministic)."""
    entities = post.entities or ()
    if post.pairs is not None:
        return [
            EntityPair(
                post_id=post.post_id,
                text=post.text,
                head=entities[p.head],
                tail=entities[p.tail],
                image=post.image,
                gold=p.relation,
            )
            for p in post.pairs
        ]
    out = []
    for i, head in enumerate(entities):
        for j, tail in enumerate(entities):
            if i == j or head.text.casefold() == tail.text.casefold():
                continue
            # Overlapping spans are alternative readings of one entity (NER candidates), not two.
            if head.start < tail.end and tail.start < head.end:
                continue
            if not type_pair_allowed(head.type, tail.type):
                continue
            out.append(EntityPair(post_id=post.post_id, text=post.text, head=head, tail=tail, image=post.image))
    return nearest(out, max_pairs)


def nearest(pairs: List[EntityPair], max_pairs: Optional[int]) -> List[EntityPair]:
    """The ``max_pairs`` pairs whose mentions stand closest (all when there are no more)."""
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    return sorted(pairs, key=lambda p: (_gap(p), p.head.start, p.tail.start))[:max_pairs]
