"""Batches of graph rows to statements (a plan) and the plan to the server, in one managed write
transaction per batch, retried where a conflict is only a race between idempotent writers.

Entity records (``resolution``) are the one thing a write replaces rather than unites, so two runs
resolving against one graph at once could each overwrite what the other decided. A record is
therefore written only over the record its run read (compare-and-set on a digest,
``kg.rows.record_fingerprint``), or over itself (a retried batch, the same input again); otherwise
the batch is rolled back and :class:`GraphChangedError` says so."""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from mmkg.kg.rows import ENTITY, POST, entity_key, normalise_name, record_fingerprint
from mmkg.kg.statements import (
    ENTITIES,
    ENTITY_RECORDS_NOW,
    ENTITY_RESOLUTIONS,
    IMAGES,
    MENTIONS,
    MOVE_MENTIONS,
    MOVE_STATEMENTS,
    POSTS,
    REDIRECT_DELETE,
    REDIRECT_MENTIONS,
    REDIRECT_STATEMENTS,
    RELATION_STATEMENTS,
)
from mmkg.schemas.relations import stored_ends


class GraphChangedError(RuntimeError):
    """Another run rewrote entity records after this run read them (two runs resolving entities on
    one graph at the same time). Nothing of the refused transaction is written; running the input
    again is safe and resolves it against what the other run wrote. Built with a message only, as
    Beam rebuilds an exception it re-raises; ``keys`` are the entities, where known."""

    keys: Tuple[str, ...] = ()
    MARK = "rewritten by another run after this run read the graph"

    @classmethod
    def message_in(cls, error: BaseException) -> Optional[str]:
        """This error's message, from itself or from the error a runner raises for a failed job
        (the multi-process DirectRunner and portable runners raise the worker's traceback as the
        text of a RuntimeError); None when ``error`` is about something else."""
        if isinstance(error, cls):
            return str(error)
        for line in reversed(str(error).splitlines()):
            _, sep, message = line.partition(f"{cls.__name__}: ")
            if sep and cls.MARK in message:
                return message.split(" [while running ")[0].strip()
        return None

    @classmethod
    def of(cls, keys: Sequence[str]) -> "GraphChangedError":
        keys = tuple(sorted(keys))
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        error = cls(
            f"{len(keys)} entit{'y was' if len(keys) == 1 else 'ies were'} {cls.MARK} ({shown}): "
            f"two runs resolved entities on one graph at the same time. "
            f"Nothing of this transaction was written; run this input again once the other run has finished "
            f"(a re-run is idempotent and resolves against what the other run wrote).")
        error.keys = keys
        return error


def refuse_changed_records(tx, expected: Mapping[str, Tuple[Optional[str], Optional[str]]]) -> None:
    """Raises :class:`GraphChangedError`, inside the caller's transaction (which it thereby rolls
    back), for each entity whose record is neither the one its run read nor the one it is about to
    write. ``expected``: key -> (digest read, digest about to be written; None when nothing is)."""
    if not expected:
        return
    now = {key: record_fingerprint(resolution)
           for key, resolution in tx.run(ENTITY_RECORDS_NOW, keys=sorted(expected)).values()}
    changed = [key for key, digest in now.items() if digest not in expected[key]]
    if changed:
        raise GraphChangedError.of(changed)


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

    resolutions: Dict[str, str] = {}
    read: Dict[str, Optional[str]] = {}  # the digest of each entity's record as its run read it
    full_aliases: Dict[str, set] = {}  # an entity row's every name (the resolution's record)

    def entity(name: str, etype: str, key: Optional[str] = None, canonical: Optional[str] = None,
               aliases=()) -> str:
        # ``key``/``canonical``: the identity entity resolution gave the name (the row carries it);
        # its canonical name is the node's name. Without: the exact key, the least name.
        key = key or entity_key(name, etype)
        e = entities.get(key)
        if e is None:
            e = entities[key] = {"key": key, "name": canonical or name, "norm": normalise_name(canonical or name),
                                 "type": etype, "aliases": set(), "canonical": canonical is not None}
        elif canonical is not None:
            e.update(name=canonical, norm=normalise_name(canonical), canonical=True)
        elif not e["canonical"]:
            e["name"] = min(e["name"], name)
        e["aliases"].add(name)
        e["aliases"].update(aliases)
        return key

    for row in rows:
        if row["kind"] == ENTITY:
            entity(row["name"], row["type"], row["key"], row["name"], row["aliases"])
            resolutions[row["key"]] = row["resolution"]
            read[row["key"]] = row.get("read")
            full_aliases[row["key"]] = {row["name"], *row["aliases"]}
            continue
        if row["kind"] == POST:
            posts[row["id"]] = {"id": row["id"], "text": row["text"], "source": row["source"]}
            if row["image"] is not None:
                images[(row["id"], row["image"]["id"])] = row["image"]["uri"]
            for m in row["mentions"]:
                mentions.add((row["id"], entity(m["name"], m["type"], m.get("key"), m.get("canonical"))))
            continue
        head = entity(row["head"], row["head_type"], row.get("head_key"), row.get("head_canonical"))
        tail = entity(row["tail"], row["tail_type"], row.get("tail_key"), row.get("tail_canonical"))
        mentions.add((row["post_id"], head))
        mentions.add((row["post_id"], tail))
        if head == tail and "head_key" in row:
            continue  # two names of one resolved entity: no edge from the entity to itself
        head, tail = stored_ends(row["label"], head, tail)  # one edge per unordered pair if symmetric
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
        plan.append((ENTITIES, [dict(e, aliases=sorted(e["aliases"]),
                                     alias_norms=sorted({normalise_name(a) for a in e["aliases"]}))
                                for _, e in sorted(entities.items())]))
    if resolutions:
        plan.append((ENTITY_RESOLUTIONS, [
            {"key": k, "resolution": v, "read": read[k], "aliases": sorted(full_aliases[k]),
             "alias_norms": sorted({normalise_name(a) for a in full_aliases[k]})}
            for k, v in sorted(resolutions.items())]))
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
    """A transaction function: one statement per step, all in the caller's transaction. Entity
    records are written only over the ones their run read (:func:`refuse_changed_records`)."""
    for statement, rows in plan:
        if statement == ENTITY_RESOLUTIONS:
            refuse_changed_records(tx, {r["key"]: (r["read"], record_fingerprint(r["resolution"])) for r in rows})
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
    counts = {"rows": len(rows), "posts": 0, "triples": 0, "entities": 0}
    for row in rows:
        counts[{POST: "posts", ENTITY: "entities"}.get(row["kind"], "triples")] += 1
    return counts


def redirect_plan(redirects: Dict[str, str]) -> List[Tuple[str, List[Dict[str, Any]]]]:
    """The statements that fold entities merged by resolution into the ones that now hold them:
    relationships and mentions re-pointed, the old node deleted (its aliases are on the new one)."""
    rows = [{"old": o, "new": n} for o, n in sorted(redirects.items()) if o != n]
    if not rows:
        return []
    return [(s, rows) for s in (*REDIRECT_STATEMENTS, REDIRECT_MENTIONS, REDIRECT_DELETE)]


def move_plan(moves: Sequence[Tuple[str, str, Sequence[str]]]) -> List[Tuple[str, List[Dict[str, Any]]]]:
    """The statements that carry what a split-off name owned to its new entity: the mentions of the
    posts that used only that name for the old entity, and those posts' share of its relationships
    (``resolution.records.Resolution.moves``)."""
    rows = [{"old": o, "new": n, "posts": sorted(p)} for o, n, p in sorted(moves) if o != n and p]
    if not rows:
        return []
    return [(s, rows) for s in (*MOVE_STATEMENTS, MOVE_MENTIONS)]


def apply_redirects(driver, redirects: Dict[str, str], database: Optional[str] = None,
                    moves: Sequence[Tuple[str, str, Sequence[str]]] = (), *,
                    read: Mapping[str, Optional[str]]) -> int:
    """Applies :func:`move_plan` then :func:`redirect_plan` in one write transaction (a split-off
    name takes its posts before the old entity is folded anywhere); returns how many entities
    were folded into others. ``read``: :func:`kg.rows.record_fingerprint` of each entity's record
    as the run read it (absent: it read none); an entity to fold away whose record has changed
    since raises :class:`GraphChangedError` (deleting it would lose what another run wrote there)."""
    folds = redirect_plan(redirects)
    plan = move_plan(moves) + folds
    if plan:
        guard = {old: (read.get(old),) for old, new in redirects.items() if old != new}

        def work(tx):
            refuse_changed_records(tx, guard)
            run_plan(tx, plan)

        kwargs = {"database": database} if database else {}
        with driver.session(**kwargs) as session:
            session.execute_write(work)
    return len(folds[0][1]) if folds else 0
