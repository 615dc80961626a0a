"""Records to graph rows, and the identity of what they write.

Graph model (docs/graph.md has the picture):

- ``(:Post {id, text, source})``, ``(:Image {id, uri})``, ``(:Post)-[:HAS_IMAGE]->(:Image)`` (from
  the posts; a triple's image id is kept on its relationship, ``image_ids``)
- ``(:Entity {key, name, norm, type, aliases})`` with ``key = TYPE + ":" + normalised name``
- ``(:Post)-[:MENTIONS]->(:Entity)`` for typed mentions and for the endpoints of every triple
- ``(:Entity)-[:MEMBER_OF|PLACE_OF_RESIDENCE|...]->(:Entity)``: one relationship per
  (head, relation, tail) fact, whatever number of posts support it, carrying ``label``,
  ``confidence`` (the highest), ``post_ids``, ``image_ids``, ``decided_by``, ``guide_versions``,
  ``llm_models`` (sets, kept as lists) and ``support`` (the number of posts).

A row is a plain dict (what Beam moves between workers and the driver sends as a parameter);
anything the graph cannot take is refused here, as InvalidTriple, before a statement is planned.
"""
from __future__ import annotations

import math
import unicodedata
from typing import Any, Dict

from mmkg.schemas.records import NER_CANDIDATE, Post, Triple
from mmkg.schemas.relations import ENTITY_TYPES, NO_RELATION, RELATIONS
from mmkg.schemas.retweets import retweet_of

POST = "post"
TRIPLE = "triple"


class InvalidTriple(ValueError):
    """A triple the graph cannot take (a label outside the closed set, an unknown type...)."""


def normalise_name(name: str) -> str:
    """The comparison form of an entity name: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def entity_key(name: str, etype: str) -> str:
    """The stable identity of an entity: its type and normalised name, e.g. ``PER:barack obama``."""
    return f"{etype}:{normalise_name(name)}"


def _clean_name(name: Any) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(name)).split())


# -- records -> rows ---------------------------------------------------------------------------


def post_row(post: Post) -> Dict[str, Any]:
    """What the graph keeps of a post. Untyped mentions (MNRE's) are left out: an entity's key
    needs its type, and for those it is only known from a triple's label."""
    mentions = []
    for m in post.entities or ():
        if m.source == NER_CANDIDATE:  # a proposal; it enters the graph only as a triple's end
            continue
        name = _clean_name(m.text)
        if m.type in ENTITY_TYPES and normalise_name(name):
            mentions.append({"name": name, "type": m.type})
    image = None
    if post.image is not None:
        image = {"id": post.image.image_id, "uri": post.image.path}
    return {
        "kind": POST,
        "id": post.post_id,
        "text": post.text,
        "source": post.source,
        # The account a retweet passes on: provenance of the post, never an entity of it.
        "retweet_of": retweet_of(post.text) or "",
        "image": image,
        "mentions": mentions,
    }


def triple_row(triple: Triple) -> Dict[str, Any]:
    """A triple as a graph row; raises :class:`InvalidTriple` for what the graph must not take."""
    if triple.relation == NO_RELATION or triple.relation not in RELATIONS:
        raise InvalidTriple(f"relation label not in the closed set: {str(triple.relation)[:80]!r}")
    for side, etype in (("head", triple.head_type), ("tail", triple.tail_type)):
        if etype not in ENTITY_TYPES:
            raise InvalidTriple(f"{side} type must be one of {', '.join(ENTITY_TYPES)}: {str(etype)[:20]!r}")
    head, tail = _clean_name(triple.head), _clean_name(triple.tail)
    if not normalise_name(head) or not normalise_name(tail):
        raise InvalidTriple("empty head or tail name")
    if not triple.post_id:
        raise InvalidTriple("triple without a post id")
    try:
        confidence = float(triple.confidence)
    except (TypeError, ValueError):
        raise InvalidTriple("confidence is not a number") from None
    if not math.isfinite(confidence):
        raise InvalidTriple("confidence is not finite")
    return {
        "kind": TRIPLE,
        "label": triple.relation,
        "head": head,
        "head_type": triple.head_type,
        "tail": tail,
        "tail_type": triple.tail_type,
        "confidence": confidence,
        "decided_by": triple.decided_by or "",
        "post_id": triple.post_id,
        "image_id": triple.image_id,
        "guide_version": triple.guide_version or "",
        "llm_model": triple.llm_model or "",
    }


def batch_key(row: Dict[str, Any]) -> str:
    """What a row is batched with: posts with posts, triples with triples of the same label, so a
    batch of triples needs one relationship statement rather than one per label it holds."""
    return POST if row["kind"] == POST else row["label"]
