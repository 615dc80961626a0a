"""Candidate pairs as the pipeline enumerates them on a training split's posts, for the guide to
learn that two entities of one post are usually unrelated.

MNRE annotates only some pairs per sentence, and a guide trained on those alone is applied to
every candidate pair of a raw post, a distribution it never saw: on held-out raw posts 86 % of its
triples fell on pairs MNRE does not annotate, and 8 % of those were right. Here each training
post is read as a raw post would be (the NER student, ner.mentions, ner.pairs with the run's
bound); a candidate that overlaps no annotated pair becomes a ``None`` example. Those are
positive-unlabelled: some are true facts MNRE left out, which is why only a share of them is
used (``--candidate-negatives``), drawn with the run's seed.
"""
from __future__ import annotations

import random
from collections import OrderedDict
from typing import Callable, Dict, List, Sequence

from mmkg.ner.mentions import clean_mentions, mentions_from_spans
from mmkg.ner.pairs import DEFAULT_MAX_PAIRS_PER_POST, enumerate_pairs
from mmkg.schemas.records import EntityMention, EntityPair, Post
from mmkg.schemas.relations import NO_RELATION

Detect = Callable[[List[str]], List[Sequence[EntityMention]]]


def _overlap(a: EntityMention, b: EntityMention) -> bool:
    return a.start < b.end and b.start < a.end


def unannotated_candidates(pairs: Sequence[EntityPair], detect: Detect,
                           max_pairs: int = DEFAULT_MAX_PAIRS_PER_POST) -> List[EntityPair]:
    """Every candidate pair of the posts of ``pairs`` that overlaps none of their annotated
    pairs (in either direction), labelled ``None``, in post order."""
    posts: Dict[str, List[EntityPair]] = OrderedDict()
    for p in pairs:
        posts.setdefault(p.post_id, []).append(p)
    texts = [group[0].text for group in posts.values()]
    out: List[EntityPair] = []
    for (post_id, group), mentions in zip(posts.items(), detect(texts)):
        text, image = group[0].text, group[0].image
        kept, _ = clean_mentions(text, mentions)
        for cand in enumerate_pairs(Post(post_id, text, image=image, entities=kept), max_pairs):
            annotated = any(
                (_overlap(cand.head, g.head) and _overlap(cand.tail, g.tail))
                or (_overlap(cand.head, g.tail) and _overlap(cand.tail, g.head))
                for g in group
            )
            if not annotated:
                out.append(EntityPair(post_id, text, cand.head, cand.tail, image=image, gold=NO_RELATION))
    return out


def sample_share(candidates: Sequence[EntityPair], share: float, seed: int) -> List[EntityPair]:
    """A seeded random ``share`` (0..1) of ``candidates``, in their order."""
    if share >= 1.0:
        return list(candidates)
    rng = random.Random(seed)
    return [c for c in candidates if rng.random() < share]


def student_detector(student, recall_penalty: float = 0.0, mentions: bool = True) -> Detect:
    """``detect`` with the NER student as the pipeline runs it (its spans, then untagged
    @mentions as candidates)."""
    def detect(texts: List[str]) -> List[Sequence[EntityMention]]:
        tagged = student.detect(texts, recall_penalty)
        return [mentions_from_spans(t, d.spans, d.candidates, mentions) for t, d in zip(texts, tagged)]

    return detect
