"""Typed records that flow between the pipeline's stages.

They are plain dataclasses so that Beam can pickle them between worker processes and tests can
build them by hand. The Parquet layout of the ones that leave the pipeline is in
:mod:`schemas.arrow`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class ImageRef:
    """Where a post's image is. Exactly one of ``path`` and ``data`` is set.

    ``image_id`` is the stable name used in the graph (the file name for MNRE, the given id or the
    path's base name otherwise).
    """

    image_id: str
    path: Optional[str] = None
    data: Optional[bytes] = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("ImageRef needs exactly one of path and data")


# Where a mention came from (``EntityMention.source``).
INPUT = "input"  # given with the post
NER = "ner"  # detected
NER_CANDIDATE = "ner-candidate"  # proposed for the guide to judge; in the graph only through a triple


@dataclass(frozen=True)
class EntityMention:
    """An entity occurrence in a post's text. ``start``/``end`` are character offsets, [start, end).

    ``type`` is one of PER, ORG, LOC, MISC, or None when the input did not say (MNRE annotates
    spans without types). ``source`` says where the mention came from: INPUT, NER or NER_CANDIDATE.
    """

    text: str
    start: int
    end: int
    type: Optional[str] = None
    source: str = "input"


@dataclass(frozen=True)
class AnnotatedPair:
    """A pair given by the input (MNRE): indices into ``Post.entities`` and the gold label."""

    head: int
    tail: int
    relation: Optional[str] = None


@dataclass(frozen=True)
class Post:
    """One image-text post. ``entities`` is None when the input gave none (NER fills them in)."""

    post_id: str
    text: str
    image: Optional[ImageRef] = None
    entities: Optional[Tuple[EntityMention, ...]] = None
    pairs: Optional[Tuple[AnnotatedPair, ...]] = None
    source: str = ""  # where it was read: "file:line" or "file#row"
    metadata: Tuple[Tuple[str, str], ...] = ()

    def with_entities(self, entities: Tuple[EntityMention, ...]) -> "Post":
        return dataclasses.replace(self, entities=tuple(entities))


@dataclass(frozen=True)
class EntityPair:
    """An ordered (head, tail) pair within one post: the unit that stage 1 scores.

    The post's text and image travel with the pair so that a scoring worker needs nothing else.
    ``gold`` is the annotated label when the input has one (evaluation only).
    """

    post_id: str
    text: str
    head: EntityMention
    tail: EntityMention
    image: Optional[ImageRef] = None
    gold: Optional[str] = None

    @property
    def pair_id(self) -> str:
        return f"{self.post_id}|{self.head.start}:{self.head.end}|{self.tail.start}:{self.tail.end}"


@dataclass(frozen=True)
class RelationScores:
    """Stage 1's output for a pair: the full distribution and its decision.

    ``probs`` is aligned with ``labels``; ``candidates`` are the top-k (label, probability) pairs,
    best first; ``decision`` is the label the guide picks after its threshold (may be ``None``).
    """

    pair: EntityPair
    labels: Tuple[str, ...]
    probs: Tuple[float, ...]
    candidates: Tuple[Tuple[str, float], ...]
    decision: str
    confidence: float
    model_version: str = ""


@dataclass(frozen=True)
class Triple:
    """A decided relation between two entities, with its provenance."""

    head: str
    head_type: str
    relation: str
    tail: str
    tail_type: str
    confidence: float
    decided_by: str  # one of DECIDED_BY
    post_id: str
    image_id: Optional[str] = None
    guide_version: str = ""
    llm_model: str = ""
    reason: str = ""


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be processed, kept with where and why so nothing is lost silently."""

    stage: str
    reason: str
    input: str  # the raw input (truncated) or a description of the record
    source: str = ""  # file:line, post id, ...
    post_id: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


# Who decided a triple (``Triple.decided_by``): the guide alone, the LLM, the guide because the
# LLM failed for that pair (the fault is in ``Triple.reason``), or a gazetteer that confirmed or
# overruled a place-contains-place triple (refiner.places; its evidence in ``Triple.reason``).
# Named once, here.
DECIDED_BY = ("guide", "llm", "guide-fallback", "gazetteer")
