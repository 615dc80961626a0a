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
ON CREATE SET e.name = row.name, e.norm = row.norm, e.type = row.type, e.aliases = row.aliases
ON MATCH SET
  e.name = CASE WHEN e.name IS NULL OR row.name < e.name THEN row.name ELSE e.name END,
  e.aliases = coalesce(e.aliases, []) + [a IN row.aliases WHERE NOT a IN coalesce(e.aliases, [])]
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
