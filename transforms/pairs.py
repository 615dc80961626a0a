"""Entity pairs: the ordered (head, tail) combinations that stage 1 scores."""
from __future__ import annotations

from typing import Iterable, List

import apache_beam as beam

from mmkg.schemas.records import EntityPair, Post
from mmkg.schemas.relations import allowed_type_pairs
from mmkg.transforms import counters

_ALLOWED = allowed_type_pairs()


def type_pair_allowed(head_type, tail_type) -> bool:
    """True when some relation label allows this (head, tail) type pair; unknown types allow all."""
    if head_type is None or tail_type is None:
        return True
    return (head_type, tail_type) in _ALLOWED


def enumerate_pairs(post: Post) -> List[EntityPair]:
    """Annotated pairs as given (so evaluation sees the benchmark's pairs); otherwise every ordered
    pair of distinct entities whose types some relation allows."""
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
    return out


class EnumeratePairs(beam.DoFn):
    def __init__(self):
        self._pairs = counters.counter(counters.PAIRS)
        self._no_pairs = counters.counter(counters.POSTS_WITHOUT_PAIRS)

    def process(self, post: Post) -> Iterable[EntityPair]:
        pairs = enumerate_pairs(post)
        if not pairs:
            self._no_pairs.inc()
        self._pairs.inc(len(pairs))
        yield from pairs
