"""The parameterised Cypher statements that write graph rows (kg.rows).

Every value reaches the server as a parameter. The only identifiers spliced into statement text
are relationship types, and those come from the closed label set (``RELATION_STATEMENTS`` is
built once from ``schemas.relations.RELATIONS``), never from input.

Writes are idempotent: nodes and relationships are MERGEd on unique keys, lists only ever gain
values they do not hold, the confidence is a maximum. So a re-run, a retried batch or two workers
writing overlapping input leave the same graph. List order is arrival order (Cypher has no
portable list sort); compare graphs with :func:`kg.queries.graph_snapshot`, which sorts.
"""
from __future__ import annotations

import re
from typing import Dict

from mmkg.schemas.relations import NO_RELATION, RELATIONS, relation_type_name

_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


ENTITIES = """
UNWIND $rows AS row
MERGE (e:Entity {key: row.key})
ON CREATE SET e.name = row.name, e.norm = row.norm, e.type = row.type, e.aliases = row.aliases,
  e.alias_norms = row.alias_norms
ON MATCH SET
  e.name = CASE WHEN row.canonical THEN row.name
                WHEN e.name IS NULL OR row.name < e.name THEN row.name ELSE e.name END,
  e.norm = CASE WHEN row.canonical THEN row.norm ELSE e.norm END,
  e.aliases = coalesce(e.aliases, []) + [a IN row.aliases WHERE NOT a IN coalesce(e.aliases, [])],
  e.alias_norms = coalesce(e.alias_norms, []) + [a IN row.alias_norms WHERE NOT a IN coalesce(e.alias_norms, [])]
"""

# The resolution stage's record of an entity (a JSON string, rewritten whole: the stage read the
# old one back and resolved with it), only for rows that carry one. Its aliases are the record's,
# exactly: a name that left the entity (an attachment undone) leaves its aliases too.
ENTITY_RESOLUTIONS = """
UNWIND $rows AS row
MATCH (e:Entity {key: row.key})
SET e.resolution = row.resolution, e.aliases = row.aliases, e.alias_norms = row.alias_norms
"""

# The records of the given entities as the graph holds them now, read inside the writing
# transaction to refuse one that another run rewrote after this run read it
# (kg.writer.GraphChangedError). The no-op SET write-locks each node first, so on Neo4j the read
# waits for a concurrent writer's commit; ArcadeDB's optimistic transactions retry on the conflict.
ENTITY_RECORDS_NOW = """
UNWIND $keys AS key
MATCH (e:Entity {key: key})
SET e.name = e.name
RETURN e.key AS key, e.resolution AS resolution
"""

POSTS = """
UNWIND $rows AS row
MERGE (p:Post {id: row.id})
SET p.text = row.text, p.source = row.source, p.retweet_of = row.retweet_of
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


# Entity resolution merged entity ``old`` into ``new`` (a later run): its relationships of one
# type move to ``new`` (lists united, confidence the highest), an edge between the two is dropped.
_REDIRECT_OUT = """
UNWIND $rows AS row
MATCH (o:Entity {key: row.old})-[r:%(type)s]->(t:Entity)
MATCH (n:Entity {key: row.new})
WHERE t.key <> row.new AND t.key <> row.old
MERGE (n)-[x:%(type)s]->(t)
%(merge)s
"""

_REDIRECT_IN = """
UNWIND $rows AS row
MATCH (t:Entity)-[r:%(type)s]->(o:Entity {key: row.old})
MATCH (n:Entity {key: row.new})
WHERE t.key <> row.new AND t.key <> row.old
MERGE (t)-[x:%(type)s]->(n)
%(merge)s
"""

_REDIRECT_MERGE = """ON CREATE SET
  x.label = r.label, x.confidence = r.confidence, x.post_ids = r.post_ids, x.image_ids = r.image_ids,
  x.decided_by = r.decided_by, x.guide_versions = r.guide_versions, x.llm_models = r.llm_models
ON MATCH SET
  x.confidence = CASE WHEN r.confidence > x.confidence THEN r.confidence ELSE x.confidence END,
  x.post_ids = coalesce(x.post_ids, []) + [v IN coalesce(r.post_ids, []) WHERE NOT v IN coalesce(x.post_ids, [])],
  x.image_ids = coalesce(x.image_ids, []) + [v IN coalesce(r.image_ids, []) WHERE NOT v IN coalesce(x.image_ids, [])],
  x.decided_by = coalesce(x.decided_by, []) + [v IN coalesce(r.decided_by, []) WHERE NOT v IN coalesce(x.decided_by, [])],
  x.guide_versions = coalesce(x.guide_versions, [])
    + [v IN coalesce(r.guide_versions, []) WHERE NOT v IN coalesce(x.guide_versions, [])],
  x.llm_models = coalesce(x.llm_models, []) + [v IN coalesce(r.llm_models, []) WHERE NOT v IN coalesce(x.llm_models, [])]
SET x.support = size(x.post_ids)"""

REDIRECT_MENTIONS = """
UNWIND $rows AS row
MATCH (p:Post)-[:MENTIONS]->(o:Entity {key: row.old})
MATCH (n:Entity {key: row.new})
MERGE (p)-[:MENTIONS]->(n)
"""

# A name node left entity ``old`` for ``new`` (resolution.records.Resolution.moves): the posts in
# ``row.posts`` used only that name for it. Their mentions move to ``new``, and so does their share
# of each relationship: the post ids (and the relationship, created or united as in a redirect)
# go to ``new``; the old relationship keeps the other posts, and is deleted when none is left
# (MOVE_EMPTIED). The confidence and provenance lists are the relationship's, not per post: a
# share that moves keeps them as they were.
_MOVE = """
UNWIND $rows AS row
MATCH %(old_side)s
WHERE t.key <> row.new
WITH row, r, t, [p IN coalesce(r.post_ids, []) WHERE p IN row.posts] AS moved
WHERE size(moved) > 0
MATCH (n:Entity {key: row.new})
MERGE %(new_side)s
%%(merge)s
SET r.post_ids = [p IN r.post_ids WHERE NOT p IN moved]
SET r.support = size(r.post_ids)
"""
_MOVE_OUT = _MOVE % {"old_side": "(o:Entity {key: row.old})-[r:%(type)s]->(t:Entity)",
                     "new_side": "(n)-[x:%(type)s]->(t)"}
_MOVE_IN = _MOVE % {"old_side": "(t:Entity)-[r:%(type)s]->(o:Entity {key: row.old})",
                    "new_side": "(t)-[x:%(type)s]->(n)"}

_MOVE_MERGE = _REDIRECT_MERGE.replace("r.post_ids", "moved")

MOVE_EMPTIED = (
    """
UNWIND $rows AS row
MATCH (o:Entity {key: row.old})-[r]->(:Entity)
WHERE r.post_ids IS NOT NULL AND size(r.post_ids) = 0
DELETE r
""",
    """
UNWIND $rows AS row
MATCH (:Entity)-[r]->(o:Entity {key: row.old})
WHERE r.post_ids IS NOT NULL AND size(r.post_ids) = 0
DELETE r
""",
)

MOVE_MENTIONS = """
UNWIND $rows AS row
MATCH (p:Post)-[m:MENTIONS]->(o:Entity {key: row.old})
WHERE p.id IN row.posts
MATCH (n:Entity {key: row.new})
MERGE (p)-[:MENTIONS]->(n)
DELETE m
"""

REDIRECT_DELETE = """
UNWIND $rows AS row
MATCH (o:Entity {key: row.old})
WHERE row.old <> row.new
DETACH DELETE o
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
# One pair of statements per relationship type (checked above); then REDIRECT_MENTIONS and
# REDIRECT_DELETE. The new entity must exist (the resolution stage writes it first).
REDIRECT_STATEMENTS = tuple(
    stmt % {"type": rel_type, "merge": _REDIRECT_MERGE}
    for rel_type in sorted(set(RELATION_TYPES.values())) for stmt in (_REDIRECT_OUT, _REDIRECT_IN)
)
MOVE_STATEMENTS = tuple(
    stmt % {"type": rel_type, "merge": _MOVE_MERGE}
    for rel_type in sorted(set(RELATION_TYPES.values())) for stmt in (_MOVE_OUT, _MOVE_IN)
) + MOVE_EMPTIED
