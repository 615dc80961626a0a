"""Batches of graph rows to statements (a plan) and the plan to the server, in one managed write
transaction per batch, retried where a conflict is only a race between idempotent writers."""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mmkg.kg.rows import POST, entity_key, normalise_name
from mmkg.kg.statements import ENTITIES, IMAGES, MENTIONS, POSTS, RELATION_STATEMENTS
from mmkg.schemas.relations import SYMMETRIC_RELATIONS


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
