"""One triple per fact and post: the guide scores both orders of a pair, so a post can state one
fact twice (``Trump PEER Kim`` and ``Kim PEER Trump``; ``Chile CONTAIN Santiago`` from both
pairs once the gazetteer has put the outer place first). Parquet, the summary and every
precision count saw each such fact twice; the graph already stored it once."""
from __future__ import annotations

from typing import Iterable, Tuple

import apache_beam as beam

from mmkg.schemas.records import Triple
from mmkg.schemas.relations import stored_ends
from mmkg.transforms import counters

FactKey = Tuple[str, str, Tuple[str, str], Tuple[str, str]]


def fact_key(t: Triple) -> FactKey:
    """(post, relation, head, tail) with head and tail as (name, type); a symmetric relation's
    ends in a fixed order, as the graph writer stores them."""
    head, tail = stored_ends(t.relation, (t.head, t.head_type), (t.tail, t.tail_type))
    return t.post_id, t.relation, head, tail


def _rank(t: Triple):
    # Highest confidence wins; the rest of the tuple only makes the choice deterministic.
    return t.confidence, t.head, t.tail, t.decided_by, t.reason


def strongest(triples: Iterable[Triple]) -> Triple:
    return max(triples, key=_rank)


class _Strongest(beam.DoFn):
    def __init__(self) -> None:
        self._merged = counters.counter(counters.TRIPLES_DUPLICATE)

    def process(self, item):
        _, group = item
        group = list(group)
        if len(group) > 1:
            self._merged.inc(len(group) - 1)
        yield strongest(group)


class OneTriplePerFact(beam.PTransform):
    """Keeps the most confident of the triples that state one fact in one post; counts the rest."""

    def expand(self, triples):
        return (
            triples
            | "ByFact" >> beam.Map(lambda t: (fact_key(t), t))
            | "Group" >> beam.GroupByKey()
            | "Strongest" >> beam.ParDo(_Strongest())
        )
