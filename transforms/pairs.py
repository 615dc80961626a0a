"""Entity pairs in the pipeline: each post's pairs (ner.pairs), counted, the bound applied."""
from __future__ import annotations

from typing import Iterable, Optional

import apache_beam as beam

from mmkg.ner.pairs import DEFAULT_MAX_PAIRS_PER_POST, enumerate_pairs, nearest
from mmkg.schemas.records import EntityPair, Post
from mmkg.transforms import counters


class EnumeratePairs(beam.DoFn):
    def __init__(self, max_pairs: Optional[int] = DEFAULT_MAX_PAIRS_PER_POST):
        self._max_pairs = max_pairs
        self._pairs = counters.counter(counters.PAIRS)
        self._no_pairs = counters.counter(counters.POSTS_WITHOUT_PAIRS)
        self._cut = counters.counter(counters.PAIRS_BEYOND_BOUND)
        self._cut_posts = counters.counter(counters.POSTS_AT_PAIR_BOUND)

    def process(self, post: Post) -> Iterable[EntityPair]:
        pairs = enumerate_pairs(post)
        # A post's annotated pairs are the input's own choice (MNRE's): never cut.
        if post.pairs is None and self._max_pairs is not None and len(pairs) > self._max_pairs:
            self._cut.inc(len(pairs) - self._max_pairs)
            self._cut_posts.inc()
            pairs = nearest(pairs, self._max_pairs)
        if not pairs:
            self._no_pairs.inc()
        self._pairs.inc(len(pairs))
        yield from pairs
