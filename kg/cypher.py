"""From records to parameterised Cypher: graph rows, batch plans, and the statements that write them.

Graph model (docs/graph.md has the picture):

- ``(:Post {id, text, source})``, ``(:Image {id, uri})``, ``(:Post)-[:HAS_IMAGE]->(:Image)`` (from
  the posts; a triple's image id is kept on its relationship, ``image_ids``)
- ``(:Entity {key, name, norm, type, aliases})`` with ``key = TYPE + ":" + normalised name``
- ``(:Post)-[:MENTIONS]->(:Entity)`` for typed mentions and for the endpoints of every triple
- ``(:Entity)-[:MEMBER_OF|PLACE_OF_RESIDENCE|...]->(:Entity)``: one relationship per
  (head, relation, tail) fact, whatever number of posts support it, carrying ``label``,
  ``confidence`` (the highest), ``post_ids``, ``image_ids``, ``decided_by``, ``guide_versions``,
  ``llm_models`` (sets, kept as lists) and ``support`` (the number of posts).

Every value reaches the server as a parameter. The only identifiers spliced into statement text
are relationship types, and those come from the closed label set (``RELATION_STATEMENTS`` is
built once from ``schemas.relations.RELATIONS``), never from input.

Writes are idempotent: nodes and relationships are MERGEd on unique keys, lists only ever gain
values they do not hold, the confidence is a maximum. So a re-run, a retried batch or two workers
writing overlapping input leave the same graph. List order is arrival order (Cypher has no
portable list sort); compare graphs with :func:`kg.queries.graph_snapshot`, which sorts.
"""
from __future__ import annotations

import math
import re
import time
import unicodedata
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mmkg.schemas.records import NER_CANDIDATE, Post, Triple
from mmkg.schemas.relations import ENTITY_TYPES, NO_RELATION, RELATIONS, SYMMETRIC_RELATIONS, relation_type_name

POST = "post"
TRIPLE = "triple"

_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


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


# -- statements --------------------------------------------------------------------------------

ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {key: row.key})
ON CREATE SET e.name = row.name, e.norm = row.norm, e.type = row.type, e.aliases = row.aliases
ON MATCH SET
  e.name = CASE WHEN e.name IS NULL OR row.name < e.name THEN row.name ELSE e.name END,
  e.aliases = coalesce(e.aliases, []) + [a IN row.aliases WHERE NOT a IN coalesce(e.aliases, [])]
"""

POSTS = """
UNWIND $rows AS row
MERGE (p:Post {id: row.id})
SET p.text = row.text, p.source = row.source
"""

IMAGES = """
UNWIND $rows AS row
MERGE (p:Post {id: row.post_id})
MERGE (i:Image {id: row.id})
SET i.uri = coalesce(row.uri, i.uri)
MERGE (p)-[:HAS_IMAGE]->(i)
"""

MENTIONS = """
UNWIND $rows AS row
MERGE (p:Post {id: row.post_id})
WITH p, row
UNWIND row.keys AS key
MATCH (e:Entity {key: key})
MERGE (p)-[:MENTIONS]->(e)
"""

_RELATION_TEMPLATE = """
UNWIND $rows AS row
MATCH (h:Entity {key: row.head})
MATCH (t:Entity {key: row.tail})
MERGE (h)-[r:%s]->(t)
ON CREATE SET
  r.label = row.label, r.confidence = row.confidence, r.post_ids = row.post_ids,
  r.image_ids = row.image_ids, r.decided_by = row.decided_by,
  r.guide_versions = row.guide_versions, r.llm_models = row.llm_models
ON MATCH SET
  r.label = row.label,
  r.confidence = CASE WHEN r.confidence IS NULL OR row.confidence > r.confidence
                      THEN row.confidence ELSE r.confidence END,
  r.post_ids = coalesce(r.post_ids, []) + [x IN row.post_ids WHERE NOT x IN coalesce(r.post_ids, [])],
  r.image_ids = coalesce(r.image_ids, []) + [x IN row.image_ids WHERE NOT x IN coalesce(r.image_ids, [])],
  r.decided_by = coalesce(r.decided_by, []) + [x IN row.decided_by WHERE NOT x IN coalesce(r.decided_by, [])],
  r.guide_versions = coalesce(r.guide_versions, [])
    + [x IN row.guide_versions WHERE NOT x IN coalesce(r.guide_versions, [])],
  r.llm_models = coalesce(r.llm_models, []) + [x IN row.llm_models WHERE NOT x IN coalesce(r.llm_models, [])]
SET r.support = size(r.post_ids)
"""


def _relation_statements() -> Dict[str, str]:
    out = {}
    for label in RELATIONS:
        if label == NO_RELATION:
            continue
        rel_type = relation_type_name(label)
        if not _TYPE_NAME.match(rel_type):  # a guard on the one identifier spliced into text
            raise AssertionError(f"unsafe relationship type derived from {label!r}")
        out[label] = _RELATION_TEMPLATE % rel_type
    return out


RELATION_STATEMENTS: Dict[str, str] = _relation_statements()
RELATION_TYPES: Dict[str, str] = {label: relation_type_name(label) for label in RELATION_STATEMENTS}


# -- batches -> plans --------------------------------------------------------------------------


def plan_batch(rows: Iterable[Dict[str, Any]]) -> List[Tuple[str, List[Dict[str, Any]]]]:
    """The statements that write a batch of post and triple rows, with their parameter rows.

    Rows are merged within the batch (one entity row per key, one relationship row per fact)
    and sorted, so that concurrent writers take locks in the same order. Entities come first:
    the mention and relationship statements MATCH them.
    """
    entities: Dict[str, Dict[str, Any]] = {}
    posts: Dict[str, Dict[str, Any]] = {}
    images: Dict[Tuple[str, str], Optional[str]] = {}
    mentions = set()
    facts: Dict[Tuple[str, str, str], Dict[str, Any]] = {}

    def entity(name: str, etype: str) -> str:
        key = entity_key(name, etype)
        e = entities.get(key)
        if e is None:
            entities[key] = {"key": key, "name": name, "norm": normalise_name(name), "type": etype, "aliases": {name}}
        else:
            e["name"] = min(e["name"], name)
            e["aliases"].add(name)
        return key

    for row in rows:
        if row["kind"] == POST:
            posts[row["id"]] = {"id": row["id"], "text": row["text"], "source": row["source"]}
            if row["image"] is not None:
                images[(row["id"], row["image"]["id"])] = row["image"]["uri"]
            for m in row["mentions"]:
                mentions.add((row["id"], entity(m["name"], m["type"])))
            continue
        head = entity(row["head"], row["head_type"])
        tail = entity(row["tail"], row["tail_type"])
        mentions.add((row["post_id"], head))
        mentions.add((row["post_id"], tail))
        if row["label"] in SYMMETRIC_RELATIONS and tail < head:
            head, tail = tail, head  # one edge per unordered pair for symmetric relations
        fact = facts.setdefault(
            (row["label"], head, tail),
            {"head": head, "tail": tail, "label": row["label"], "confidence": row["confidence"],
             "post_ids": set(), "image_ids": set(), "decided_by": set(), "guide_versions": set(),
             "llm_models": set()},
        )
        fact["confidence"] = max(fact["confidence"], row["confidence"])
        fact["post_ids"].add(row["post_id"])
        for field, value in (("image_ids", row["image_id"]), ("decided_by", row["decided_by"]),
                             ("guide_versions", row["guide_version"]), ("llm_models", row["llm_model"])):
            if value:
                fact[field].add(value)

    plan: List[Tuple[str, List[Dict[str, Any]]]] = []
    if entities:
        plan.append((ENTITIES, [dict(e, aliases=sorted(e["aliases"])) for _, e in sorted(entities.items())]))
    if posts:
        plan.append((POSTS, [p for _, p in sorted(posts.items())]))
    if images:
        plan.append((IMAGES, [{"post_id": p, "id": i, "uri": u} for (p, i), u in sorted(images.items())]))
    if mentions:
        by_post: Dict[str, List[str]] = defaultdict(list)
        for post_id, key in sorted(mentions):
            by_post[post_id].append(key)
        plan.append((MENTIONS, [{"post_id": p, "keys": keys} for p, keys in by_post.items()]))
    by_label: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for (label, _, _), fact in sorted(facts.items()):
        by_label[label].append({k: sorted(v) if isinstance(v, set) else v for k, v in fact.items()})
    for label in sorted(by_label):
        plan.append((RELATION_STATEMENTS[label], by_label[label]))
    return plan


def run_plan(tx, plan: Sequence[Tuple[str, List[Dict[str, Any]]]]) -> None:
    """A transaction function: one statement per step, all in the caller's transaction."""
    for statement, rows in plan:
        tx.run(statement, rows=rows).consume()


def write_rows(
    driver,
    rows: Sequence[Dict[str, Any]],
    database: Optional[str] = None,
    conflict_retries: int = 5,
) -> Dict[str, int]:
    """Writes one batch in one managed write transaction; returns what it wrote, by kind.

    execute_write retries transient errors (a dropped connection, a deadlock, ArcadeDB's
    concurrent-modification conflict). A unique-key race between two writers MERGEing the same
    new node reaches the client as a ConstraintError on ArcadeDB (Neo4j serialises it with
    locks); the batch is idempotent, so it is retried here too, a few times with backoff.
    """
    from neo4j.exceptions import ConstraintError

    plan = plan_batch(rows)
    kwargs = {"database": database} if database else {}
    for attempt in range(conflict_retries + 1):
        try:
            with driver.session(**kwargs) as session:
                session.execute_write(run_plan, plan)
            break
        except ConstraintError:
            if attempt == conflict_retries:
                raise
            time.sleep(0.05 * 2**attempt)
    counts = {"rows": len(rows), "posts": 0, "triples": 0}
    for row in rows:
        counts["posts" if row["kind"] == POST else "triples"] += 1
    return counts
