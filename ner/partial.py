"""Partially annotated NER data: MNRE's heads and tails as supervision for the student.

MNRE marks only the entities that take part in its annotated pairs, with its own boundary
conventions (``Late Shri RK Dhawan``, ``Harlem Street Photographer``), which Twitter-2015/2017 do
not share; those conventions are what the pipeline's pairs are judged by. A sentence of MNRE
therefore fixes some spans (their boundaries, and their type when the pair's label implies it)
and leaves every other word open. The CRF is trained on such a sentence by the likelihood of the
set of tag sequences that agree with what is known (``NerModel.partial_loss``): each word gets
the set of tags it may take, an "allowed" mask, instead of one gold tag.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmkg.ner.data import TAG_ID, TAGS, TaggedSentence
from mmkg.schemas.mnre import tokens_to_text
from mmkg.schemas.mnre_split import iter_mnre
from mmkg.schemas.relations import implied_types

PartialSpan = Tuple[int, int, Optional[str]]  # [start, end) in words; type, or None when not known


@dataclass(frozen=True)
class PartialSentence:
    image_id: Optional[str]
    tokens: Tuple[str, ...]
    spans: Tuple[PartialSpan, ...]


def is_mnre_file(path: str) -> bool:
    """MNRE lines are dict literals; CoNLL files start with ``IMGID:`` or ``token<TAB>tag``."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return line.lstrip().startswith("{")
    return False


def _token_index(text: str) -> Tuple[List[str], Dict[int, int], Dict[int, int]]:
    """The tokens of an MNRE text (its tokens joined by single spaces) and maps from a token's start
    and end character offsets to its [start, end) token positions."""
    tokens = text.split(" ")
    _, offsets = tokens_to_text(tokens)
    return (tokens, {o: i for i, o in enumerate(offsets)},
            {o + len(t): i + 1 for i, (o, t) in enumerate(zip(offsets, tokens))})


def _strip_hash(tokens: Sequence[str], s: int, e: int) -> Optional[Tuple[int, int]]:
    # MNRE spans a hashtag as `# Bears`; Twitter-2017 and the pipeline's tokeniser leave the sign
    # outside the entity (`#` O, `Bears` B-ORG). Teach one convention: the one the graph uses.
    while s < e and tokens[s] == "#":
        s += 1
    return (s, e) if s < e else None


def merge_spans(spans: Sequence[PartialSpan]) -> Tuple[PartialSpan, ...]:
    """One entry per span; a span given two different types keeps its boundaries only. Spans that
    overlap another (nested or crossing: a flat tagging cannot hold both) are dropped, both of
    them, so that no constraint contradicts another."""
    typed: Dict[Tuple[int, int], Optional[str]] = {}
    for s, e, t in spans:
        if (s, e) not in typed:
            typed[(s, e)] = t
        elif typed[(s, e)] is None:
            typed[(s, e)] = t
        elif t is not None and t != typed[(s, e)]:
            typed[(s, e)] = None
    keys = sorted(typed)
    clash = set()
    for i, (s1, e1) in enumerate(keys):
        for s2, e2 in keys[i + 1:]:
            if s2 >= e1:
                break
            clash.update({(s1, e1), (s2, e2)})
    return tuple((s, e, typed[(s, e)]) for s, e in keys if (s, e) not in clash)


def read_mnre_partial(path: str) -> List[PartialSentence]:
    """One PartialSentence per MNRE sentence (lines sharing image and text), in first-seen order,
    with the spans of all its pairs; a head or tail's type is the one its relation implies."""
    order: List[Tuple[Optional[str], str]] = []
    spans: Dict[Tuple[Optional[str], str], List[PartialSpan]] = {}
    for inst in iter_mnre(path):
        key = (inst.img_id, inst.text)
        if key not in spans:
            order.append(key)
            spans[key] = []
        tokens, starts, ends = _token_index(inst.text)
        types = implied_types(inst.relation) if inst.relation else None
        for k, ent in enumerate((inst.head, inst.tail)):
            if ent.start not in starts or ent.end not in ends:
                continue  # not on token boundaries: nothing to teach
            cut = _strip_hash(tokens, starts[ent.start], ends[ent.end])
            if cut:
                spans[key].append((cut[0], cut[1], types[k] if types else None))
    return [PartialSentence(img, tuple(text.split(" ")), merge_spans(spans[(img, text)])) for img, text in order]


def _tag_ids(prefix: str, etype: Optional[str]) -> List[int]:
    return [TAG_ID[f"{prefix}-{etype}"]] if etype else [i for i, t in enumerate(TAGS) if t.startswith(prefix + "-")]


def allowed_tags(n_words: int, spans: Sequence[PartialSpan]) -> np.ndarray:
    """(n_words, n_tags) booleans: what each word may be tagged given the known spans. A known
    span starts with B and continues with I (of its type when known; the CRF's transitions keep
    one type across the span); the word after it may not continue it; other words are open."""
    allowed = np.ones((n_words, len(TAGS)), dtype=bool)
    for s, e, t in spans:
        allowed[s:e] = False
        allowed[s, _tag_ids("B", t)] = True
        for i in range(s + 1, e):
            allowed[i, _tag_ids("I", t)] = True
        if e < n_words:
            allowed[e, _tag_ids("I", None)] = False
    return allowed


def allowed_from_tags(tags: Sequence[str]) -> np.ndarray:
    """A fully tagged sentence: one allowed tag per word (the ordinary CRF likelihood)."""
    allowed = np.zeros((len(tags), len(TAGS)), dtype=bool)
    allowed[np.arange(len(tags)), [TAG_ID[t] for t in tags]] = True
    return allowed


def training_mask(sentence) -> np.ndarray:
    if isinstance(sentence, TaggedSentence):
        return allowed_from_tags(sentence.tags)
    return allowed_tags(len(sentence.tokens), sentence.spans)


def span_recall(pred: Sequence[Sequence[Tuple[int, int, str]]], sentences: Sequence[PartialSentence]) -> Dict:
    """How many annotated spans the model predicts exactly: boundaries, and the type where the
    annotation knows it. Recall only: the other words are not annotated, so precision is unknown."""
    hit = hit_bounds = total = 0
    for p, sent in zip(pred, sentences):
        by_bounds = {(s, e): t for s, e, t in p}
        for s, e, t in sent.spans:
            total += 1
            if (s, e) in by_bounds:
                hit_bounds += 1
                hit += t is None or by_bounds[(s, e)] == t
    return {"recall": hit / total if total else 0.0, "boundary_recall": hit_bounds / total if total else 0.0,
            "spans": total, "sentences": len(sentences)}
