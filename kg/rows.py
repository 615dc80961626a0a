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

import hashlib
import math
import unicodedata
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

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


# A resolved identity of a name: (entity key, canonical name), or None to keep the exact key.
# The graph writer gets one from entity resolution (transforms.graph_writer); kg does not resolve.
# It is asked with the post the name is written in: a short form may stand for a longer name of its post.
Identity = Callable[[str, str, str], Optional[Tuple[str, str]]]

ENTITY = "entity"


def _identify(name: str, etype: str, post_id: str, identity: Optional[Identity], out: Dict[str, Any],
              prefix: str = "") -> None:
    found = identity(name, etype, post_id) if identity is not None else None
    if found is not None:
        out[prefix + "key"], out[prefix + "canonical"] = found


def _clean_name(name: Any) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(name)).split())


# -- records -> rows ---------------------------------------------------------------------------


def post_row(post: Post, identity: Optional[Identity] = None) -> Dict[str, Any]:
    """What the graph keeps of a post. Untyped mentions (MNRE's) are left out: an entity's key
    needs its type, and for those it is only known from a triple's label. ``identity``: a
    mention's resolved (key, canonical name); without it (or where it says None) the key is
    :func:`entity_key`."""
    mentions = []
    for m in post.entities or ():
        if m.source == NER_CANDIDATE:  # a proposal; it enters the graph only as a triple's end
            continue
        name = _clean_name(m.text)
        if m.type in ENTITY_TYPES and normalise_name(name):
            mention = {"name": name, "type": m.type}
            _identify(name, m.type, post.post_id, identity, mention)
            mentions.append(mention)
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


def triple_row(triple: Triple, identity: Optional[Identity] = None) -> Dict[str, Any]:
    """A triple as a graph row; raises :class:`InvalidTriple` for what the graph must not take.
    ``identity`` as for :func:`post_row` (``head_key``/``tail_key``, ``head_canonical``/...)."""
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
    row = {
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
    _identify(head, triple.head_type, triple.post_id, identity, row, "head_")
    _identify(tail, triple.tail_type, triple.post_id, identity, row, "tail_")
    return row


def record_fingerprint(resolution: Optional[str]) -> Optional[str]:
    """What a run saw of an entity's ``resolution`` record: a digest of the stored text, or None
    when there was none (no entity, or one written without resolution)."""
    return hashlib.sha256(resolution.encode("utf-8")).hexdigest() if resolution else None


def entity_row(key: str, name: str, etype: str, aliases: Sequence[str], resolution: str,
               read: Optional[str] = None) -> Dict[str, Any]:
    """A resolved entity as a graph row: its key, canonical name, every alias, and ``resolution``
    (a JSON string: the decisions that made it, written by the resolution stage, read back by the
    next run). ``read``: :func:`record_fingerprint` of the record this run resolved against; the
    writer refuses the row when the graph's record has changed since (kg.writer.GraphChangedError)."""
    return {"kind": ENTITY, "key": key, "name": _clean_name(name), "type": etype,
            "aliases": sorted({_clean_name(a) for a in aliases}), "resolution": resolution, "read": read}


def batch_key(row: Dict[str, Any]) -> str:
    """What a row is batched with: posts with posts, triples with triples of the same label, so a
    batch of triples needs one relationship statement rather than one per label it holds."""
    return row["kind"] if row["kind"] in (POST, ENTITY) else row["label"]
