"""Entity types for the heads and tails of pairs that come without them, from the NER student.

MNRE annotates spans, not types, and a post's entities given by the user may be untyped too; a
guide trained with typed markers needs a type on both sides. The student tags each distinct text
once (following MNRE's boundaries, the convention closest to relation arguments), and a mention
takes the type of the predicted span that covers most of its characters; a mention no predicted
span touches stays untyped. Mentions that already carry a type keep it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from mmkg.ner.tagger import CharSpan, NerStudent
from mmkg.schemas.records import EntityMention, EntityPair


def best_type(mention: EntityMention, spans: Sequence[CharSpan]) -> Optional[str]:
    """The type of the span overlapping ``mention`` by the most characters (ties: the earlier)."""
    best, best_overlap = None, 0
    for start, end, kind in spans:
        overlap = min(end, mention.end) - max(start, mention.start)
        if overlap > best_overlap:
            best, best_overlap = kind, overlap
    return best


def type_pairs(student: NerStudent, pairs: Sequence[EntityPair]) -> List[EntityPair]:
    """``pairs`` with each untyped head and tail typed by ``student``; order and everything else kept."""
    texts: Dict[str, int] = {}
    for p in pairs:
        if p.head.type is None or p.tail.type is None:
            texts.setdefault(p.text, len(texts))
    if not texts:
        return list(pairs)
    tagged = student.detect(list(texts))
    out = []
    for p in pairs:
        if p.text not in texts:
            out.append(p)
            continue
        spans = tagged[texts[p.text]].spans
        head = p.head if p.head.type else replace(p.head, type=best_type(p.head, spans))
        tail = p.tail if p.tail.type else replace(p.tail, type=best_type(p.tail, spans))
        out.append(replace(p, head=head, tail=tail))
    return out
