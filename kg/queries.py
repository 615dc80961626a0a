"""Read queries over the knowledge graph: the canned questions of `mmkg query` and a canonical
snapshot for comparing two graphs. All parameterised; names are matched on their normalised form."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmkg.kg.rows import normalise_name
from mmkg.kg.statements import RELATION_TYPES
from mmkg.schemas.relations import SYMMETRIC_RELATIONS

Rows = Tuple[List[str], List[List[Any]]]


def run_cypher(driver, query: str, params: Optional[Dict[str, Any]] = None, database: Optional[str] = None,
               write: bool = False) -> Rows:
    """Runs one query in a managed transaction; returns (column names, rows)."""

    def work(tx):
        result = tx.run(query, params or {})
        keys = list(result.keys())
        return keys, [list(record.values()) for record in result]

    kwargs = {"database": database} if database else {}
    with driver.session(**kwargs) as session:
        return session.execute_write(work) if write else session.execute_read(work)


def stats(driver, database: Optional[str] = None) -> Dict[str, List[Tuple[str, int]]]:
    """Node counts by label and relationship counts by type."""
    _, labels = run_cypher(
        driver, "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS count ORDER BY label", None, database
    )
    _, types = run_cypher(
        driver, "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS count ORDER BY type", None, database
    )
    return {"labels": [(l, int(c)) for l, c in labels], "types": [(t, int(c)) for t, c in types]}


def resolve_relation(name: str) -> Optional[str]:
    """A label of the closed set from a label (``/per/org/member_of``) or its graph type
    (``MEMBER_OF``, any case); None when it is neither."""
    if name in RELATION_TYPES:
        return name
    wanted = name.strip().upper()
    for label, rel_type in RELATION_TYPES.items():
        if rel_type == wanted:
            return label
    return None


# An entity is found by its name or by any of its aliases (entity resolution writes them all).
_NAMED = "(e.norm = $norm OR $norm IN coalesce(e.alias_norms, []))"

_ENTITY_RELATIONS = f"""
MATCH (e:Entity)-[r]->(o:Entity) WHERE {_NAMED}
RETURN e.name AS head, type(r) AS relation, o.name AS tail, r.confidence AS confidence,
       r.decided_by AS decided_by, r.post_ids AS posts
UNION ALL
MATCH (o:Entity)-[r]->(e:Entity) WHERE {_NAMED}
RETURN o.name AS head, type(r) AS relation, e.name AS tail, r.confidence AS confidence,
       r.decided_by AS decided_by, r.post_ids AS posts
"""


def entity_relations(driver, name: str, database: Optional[str] = None) -> Rows:
    """Every relation the entity takes part in (any type), best supported first."""
    keys, rows = run_cypher(driver, _ENTITY_RELATIONS, {"norm": normalise_name(name)}, database)
    if not rows:
        # The embedded store names no columns for an empty result (Neo4j does): an entity with no
        # relation in the graph (e.g. all of its triples below --min-confidence) is not an error.
        return ["head", "relation", "tail", "confidence", "decided_by", "posts"], []
    conf = keys.index("confidence")
    rows.sort(key=lambda r: (-(r[conf] or 0.0), [str(v) for v in r]))
    return keys, rows


def entities_named(driver, name: str, database: Optional[str] = None) -> List[Tuple[str, str]]:
    return [(e["name"], e["type"]) for e in entity_details(driver, name, database)]


def entity_details(driver, name: str, database: Optional[str] = None) -> List[Dict[str, Any]]:
    """The entities a name or an alias names: key, name, type, aliases and ``resolution`` (the
    resolution stage's JSON record, None for an entity written without it), by type."""
    _, rows = run_cypher(
        driver,
        f"MATCH (e:Entity) WHERE {_NAMED} RETURN e.key, e.name, e.type, e.aliases, e.resolution ORDER BY e.type, e.key",
        {"norm": normalise_name(name)}, database,
    )
    return [{"key": k, "name": n, "type": t, "aliases": sorted(a or []), "resolution": r} for k, n, t, a, r in rows]


def entity_states(driver, database: Optional[str] = None) -> Tuple[List[Dict[str, Any]], List[Tuple[str, str, str, str]]]:
    """What entity resolution reads back before a run: every Entity (key, name, type, aliases,
    ``resolution``; for one without ``resolution``, the posts that mention it), and the
    alternate_names edges between entities written without resolution (head, tail, type, post)."""
    _, rows = run_cypher(
        driver, "MATCH (e:Entity) RETURN e.key, e.name, e.type, e.aliases, e.resolution ORDER BY e.key", None, database)
    entities = {k: {"key": k, "name": n, "type": t, "aliases": list(a or []), "resolution": r, "posts": []}
                for k, n, t, a, r in rows}
    legacy = sorted(k for k, e in entities.items() if not e["resolution"])
    alt_edges: List[Tuple[str, str, str, str]] = []
    if legacy:
        _, rows = run_cypher(
            driver, "MATCH (p:Post)-[:MENTIONS]->(e:Entity) WHERE e.resolution IS NULL RETURN e.key, p.id", None,
            database)
        for k, post in rows:
            entities[k]["posts"].append(post)
        types = sorted({t for label, t in RELATION_TYPES.items() if label.endswith("/alternate_names")})
        _, rows = run_cypher(
            driver,
            "MATCH (h:Entity)-[r]->(t:Entity) WHERE type(r) IN $types AND h.resolution IS NULL "
            "AND t.resolution IS NULL RETURN h.name, t.name, h.type, r.post_ids",
            {"types": types}, database)
        alt_edges = sorted({(h, t, ty, p) for h, t, ty, posts in rows for p in (posts or [])})
    return list(entities.values()), alt_edges


def similar_entities(driver, name: str, database: Optional[str] = None, limit: int = 10) -> List[str]:
    """Names containing ``name`` (for a helpful 'did you mean')."""
    _, rows = run_cypher(
        driver,
        "MATCH (e:Entity) WHERE e.norm CONTAINS $norm RETURN DISTINCT e.name AS name ORDER BY name LIMIT $limit",
        {"norm": normalise_name(name), "limit": limit}, database,
    )
    return [r[0] for r in rows]


def evidence(driver, head: str, label: str, tail: str, database: Optional[str] = None) -> Rows:
    """The posts (and their images) that support ``head -label-> tail``."""
    arrow = "-[r]-" if label in SYMMETRIC_RELATIONS else "-[r]->"
    query = f"""
MATCH (h:Entity {{norm: $head}}){arrow}(t:Entity {{norm: $tail}})
WHERE type(r) = $type
UNWIND r.post_ids AS post_id
OPTIONAL MATCH (p:Post {{id: post_id}})
OPTIONAL MATCH (p)-[:HAS_IMAGE]->(i:Image)
RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.confidence AS confidence,
       post_id AS post, p.text AS text, i.id AS image, i.uri AS image_uri
ORDER BY post, image
"""
    params = {"head": normalise_name(head), "tail": normalise_name(tail), "type": RELATION_TYPES[label]}
    return run_cypher(driver, query, params, database)


@dataclass
class Neighbourhood:
    """An entity (all entities with that normalised name), its relations, the posts that mention
    it and their images: what `mmkg query show` draws."""

    entities: List[Dict[str, Any]] = field(default_factory=list)
    others: List[Dict[str, Any]] = field(default_factory=list)
    relations: List[Dict[str, Any]] = field(default_factory=list)
    posts: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.entities


def neighbourhood(driver, name: str, database: Optional[str] = None, limit: int = 100) -> Neighbourhood:
    norm = normalise_name(name)
    out = Neighbourhood()
    _, rows = run_cypher(
        driver, f"MATCH (e:Entity) WHERE {_NAMED} RETURN e.key, e.name, e.type ORDER BY e.key", {"norm": norm}, database
    )
    out.entities = [{"key": k, "name": n, "type": t} for k, n, t in rows]
    if not rows:
        return out
    _, rows = run_cypher(
        driver,
        f"""
MATCH (e:Entity)-[r]->(o:Entity) WHERE {_NAMED}
RETURN e.key AS head, o.key AS tail, o.name AS other, o.type AS other_type, type(r) AS type,
       r.confidence AS confidence, r.post_ids AS posts, r.decided_by AS decided_by, o.key AS other_key
UNION ALL
MATCH (o:Entity)-[r]->(e:Entity) WHERE {_NAMED}
RETURN o.key AS head, e.key AS tail, o.name AS other, o.type AS other_type, type(r) AS type,
       r.confidence AS confidence, r.post_ids AS posts, r.decided_by AS decided_by, o.key AS other_key
""",
        {"norm": norm}, database,
    )
    seen = {e["key"] for e in out.entities}
    for head, tail, other, other_type, rel_type, conf, posts, decided_by, other_key in rows[:limit]:
        out.relations.append({"head": head, "tail": tail, "type": rel_type, "confidence": conf,
                              "posts": list(posts or []), "decided_by": list(decided_by or [])})
        if other_key not in seen:
            seen.add(other_key)
            out.others.append({"key": other_key, "name": other, "type": other_type})
    _, rows = run_cypher(
        driver,
        f"""
MATCH (p:Post)-[:MENTIONS]->(e:Entity) WHERE {_NAMED}
OPTIONAL MATCH (p)-[:HAS_IMAGE]->(i:Image)
RETURN p.id AS post, p.text AS text, e.key AS entity, i.id AS image, i.uri AS uri
ORDER BY post LIMIT $limit
""",
        {"norm": norm, "limit": limit}, database,
    )
    out.posts = [{"id": p, "text": t, "entity": e, "image": i, "uri": u} for p, t, e, i, u in rows]
    return out


def graph_snapshot(driver, database: Optional[str] = None) -> Dict[str, Any]:
    """The whole graph in a canonical, comparable form: nodes by identity key, relationships by
    (type, start, end), list properties sorted. Two runs that wrote the same facts give equal
    snapshots, whatever order their batches arrived in."""
    ident = "coalesce(n.key, n.id)"
    _, nodes = run_cypher(
        driver, f"MATCH (n) RETURN labels(n) AS labels, {ident} AS ident, properties(n) AS props", None, database
    )
    _, rels = run_cypher(
        driver,
        "MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.key, a.id) AS start, "
        "coalesce(b.key, b.id) AS end, properties(r) AS props",
        None, database,
    )
    node_list = sorted(
        ((sorted(labels)[0] if labels else "", ident, _canonical(props)) for labels, ident, props in nodes),
        key=repr,
    )
    rel_list = sorted(((t, s, e, _canonical(p)) for t, s, e, p in rels), key=repr)
    return {"nodes": node_list, "relationships": rel_list}


def _canonical(props: Dict[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    return tuple(
        sorted((k, tuple(sorted(v, key=repr)) if isinstance(v, (list, tuple)) else v) for k, v in props.items())
    )


def format_table(keys: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    """A plain text table, one line per row; long cells are cut at ``max_width`` (0: never)."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [len(k) for k in keys]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    line = "  ".join(k.ljust(w) for k, w in zip(keys, widths)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    noun = "row" if len(rows) == 1 else "rows"
    return "\n".join([line, sep, *body, f"({len(rows)} {noun})"])


def to_plain(value: Any) -> Any:
    """Driver values (nodes, relationships, paths, temporal types) as JSON-friendly Python."""
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        return {"labels": sorted(value.labels), **{k: to_plain(v) for k, v in value.items()}}
    if isinstance(value, Relationship):
        return {"type": value.type, **{k: to_plain(v) for k, v in value.items()}}
    if isinstance(value, Path):
        return [to_plain(n) for n in value.nodes]
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _cell(value: Any, max_width: int) -> str:
    value = to_plain(value)
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.3f}"
    elif isinstance(value, list):
        text = ", ".join(_cell(v, 0) for v in value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {_cell(v, 0)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    text = " ".join(text.split())  # one line per row, whatever the text holds
    if max_width and len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text
