"""Entity resolution, whole or incremental: mentions (and the entities a graph already holds) in,
entities with their aliases and the decisions behind them out.

    res = resolve(mentions)                        # a first run
    res2 = resolve(more_mentions, existing=list(res.entities.values()))   # a later run
    res2.key_of("@LouvreMuseum", "ORG")            # the entity key a name now has
    explain(res2, "Kim")                           # aliases and why

A run is a function of its name nodes and their links. A later run rebuilds the name nodes of the
records it is given, adds its mentions, scores again only the candidate pairs that involve a node
whose evidence changed (and pairs with alternate_names evidence), keeps the recorded links of the
others, and clusters again. The links of unchanged pairs are what scoring them again would give
(``scoring.score_pair`` looks at the two nodes only), so two runs over two halves end with the same
entities as one run over the whole, and a run over input already resolved changes nothing.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mmkg.resolve.blocking import candidate_pairs
from mmkg.resolve.cluster import ATTACH, cluster, entity_records
from mmkg.resolve.inpost import stands_for
from mmkg.resolve.nodes import merge_node_maps, nodes_of_mentions, nodes_of_records
from mmkg.resolve.normalise import normalise
from mmkg.resolve.records import (
    MANUAL_SPLIT,
    AltName,
    Decision,
    EntityRecord,
    Mention,
    Resolution,
    in_post_nodes,
    node_key,
)
from mmkg.resolve.scoring import DEFAULT, RULES, Params, rules_of, score_pair


def mentions_of_post(post_id: str, names: Sequence[Tuple[str, str]], id_prefix: str = "",
                     vector: str = "") -> List[Mention]:
    """The mentions of one post from its (name, type) list, each with the others as context, the
    post's text vector code (``vector``, ``resolve.text_encoder``) and, for a short form of a longer
    person name of the post, that name (``inpost.stands_for``). Mention ids are ``post_id#i`` (the
    i-th name), or ``id_prefix + ...`` when given."""
    out = []
    targets = stands_for(names)
    for i, (name, etype) in enumerate(names):
        others = tuple(n for j, (n, _) in enumerate(names) if j != i)
        out.append(Mention(f"{id_prefix or post_id}#{i}", post_id, name, etype, others, targets[i], vector))
    return out


def alt_support(alt_names: Iterable[AltName]) -> Dict[Tuple[str, str], int]:
    """Pair of node keys -> number of distinct posts with an alternate_names triple between them."""
    posts: Dict[Tuple[str, str], Set[str]] = {}
    for t in alt_names:
        a = node_key(t.type, normalise(t.head, t.type))
        b = node_key(t.type, normalise(t.tail, t.type))
        if a == b or a.endswith(":") or b.endswith(":"):
            continue
        posts.setdefault((a, b) if a < b else (b, a), set()).add(t.post_id)
    return {p: len(v) for p, v in posts.items()}


def _recorded(existing: Iterable[EntityRecord], rules: str = RULES) -> Dict[Tuple[Tuple[str, str], str], Decision]:
    """The links the records hold that scoring would give again: those of records made under the
    current rules and thresholds (``rules``), and every manual split (a user's decision, whatever
    the rules)."""
    out = {}
    for r in existing:
        for d in r.decisions:
            if d.rule == MANUAL_SPLIT or (d.rule != ATTACH and r.rules == rules):
                # attachments are made again by clustering, from the links
                out[(d.pair, d.rule)] = d
    return out


def stale_nodes(existing: Iterable[EntityRecord], rules: str = RULES) -> Set[str]:
    """The name nodes of records made under other rules or thresholds (or none): their pairs are
    scored again."""
    return {k for r in existing if r.rules != rules for k in nodes_of_records([r])}


def resolve(mentions: Iterable[Mention] = (), existing: Sequence[EntityRecord] = (),
            alt_names: Iterable[AltName] = (), params: Params = DEFAULT,
            splits: Iterable[Tuple[str, str]] = ()) -> Resolution:
    """Resolves ``mentions`` together with the entities ``existing`` (records of earlier runs).

    ``alt_names``: the alternate_names triples known (the graph's and this run's; a pair's support
    is its number of distinct posts). ``splits``: pairs of name-node keys never to merge (an undone
    decision; kept in the records from then on). Pass every existing entity that shares a name
    node's blocking key with a new mention, and the entities their decisions point to.
    """
    mentions = list(mentions)
    old = nodes_of_records(existing)
    nodes = merge_node_maps(old, nodes_of_mentions(mentions))
    rules = rules_of(params)
    changed = {k for k, n in nodes.items() if old.get(k) != n} | (stale_nodes(existing, rules) & nodes.keys())
    alt = {p: n for p, n in alt_support(alt_names).items() if p[0] in nodes and p[1] in nodes}

    recorded = _recorded(existing, rules)
    for a, b in splits:
        d = Decision(min(a, b), max(a, b), MANUAL_SPLIT, 1.0, False, "", ())
        recorded[(d.pair, MANUAL_SPLIT)] = d
    fresh = candidate_pairs(nodes.values(), only=changed) if changed else set()
    fresh |= set(alt)
    decisions: List[Decision] = []
    for (pair, rule), d in recorded.items():
        if rule == MANUAL_SPLIT:
            decisions.append(d)
        elif pair not in fresh and pair[0] in nodes and pair[1] in nodes:
            decisions.append(d)  # neither side changed: scoring it again gives the same
    for a, b in sorted(fresh):
        d = score_pair(nodes[a], nodes[b], alt.get((a, b), 0), params)
        if d is not None:
            decisions.append(d)

    uf, attachments = cluster(nodes, decisions, params)
    links = [d for d in decisions]
    entities = entity_records(nodes, uf, links + attachments, rules)
    node_entity = {}
    for e in entities.values():
        for k in e.nodes:
            node_entity[k] = e.key
    mention_entity = {}
    for m in mentions:
        k = m.node()
        if k in node_entity:
            mention_entity[m.mention_id] = node_entity[k]
    redirects, moves = carried_over(existing, node_entity)
    return Resolution(entities=entities, node_entity=node_entity, mention_entity=mention_entity,
                      redirects=redirects, moves=moves, in_post=in_post_nodes(entities.values()),
                      decisions=tuple(sorted(links + attachments, key=lambda d: (d.pair, d.rule))))


def carried_over(existing: Sequence[EntityRecord], node_entity: Dict[str, str]
                 ) -> Tuple[Dict[str, str], Tuple[Tuple[str, str, Tuple[str, ...]], ...]]:
    """What becomes of the entities given in: ``redirects`` (old key -> the entity that now holds
    its canonical name node, where that differs) and ``moves`` (see :class:`Resolution`): a post
    moves to another entity only when every name it used for the old one went there."""
    redirects = {r.key: node_entity[r.key] for r in existing
                 if r.key in node_entity and node_entity[r.key] != r.key}
    moves = []
    for r in existing:
        holder = node_entity.get(r.key, r.key)
        went: Dict[str, Set[str]] = {}
        for a in r.aliases:
            to = node_entity.get(a.node(r.type), holder)
            for post in a.post_ids:
                went.setdefault(post, set()).add(to)
        by_target: Dict[str, List[str]] = {}
        for post, targets in went.items():
            if len(targets) == 1 and holder not in targets:
                by_target.setdefault(next(iter(targets)), []).append(post)
        moves.extend((r.key, to, tuple(sorted(posts))) for to, posts in sorted(by_target.items()))
    return redirects, tuple(moves)


def explain(res: Resolution, name: str, etype: Optional[str] = None) -> List[str]:
    """Human-readable lines: the entity a name belongs to, its aliases with their posts, and every
    decision that shaped it (``mmkg query entity NAME`` can print these)."""
    types = [etype] if etype else ["PER", "ORG", "LOC", "MISC"]
    lines: List[str] = []
    for t in types:
        key = res.key_of(name, t)
        if key is None:
            continue
        e = res.entities[key]
        lines.append(f"{e.key}  {e.name!r}  ({len(e.aliases)} aliases, {len(e.nodes)} name nodes)")
        for a in e.aliases:
            short = f" (beside {a.stands_for!r} in its posts)" if a.stands_for else ""
            lines.append(f"  alias {a.name!r}{short}: posts {', '.join(a.post_ids[:10])}"
                         + (" ..." if len(a.post_ids) > 10 else ""))
        for d in e.decisions:
            feats = ", ".join(f"{k}={v:g}" for k, v in d.features)
            dep = f" dependent={d.dependent}" if d.dependent else ""
            merged = "merged" if (res.node_entity.get(d.a) == res.node_entity.get(d.b)) else "kept apart"
            lines.append(f"  {d.rule:<13} {d.a} ~ {d.b}  score={d.score:g} firm={d.firm}{dep}  [{feats}]  -> {merged}")
    return lines


def undo(existing: Sequence[EntityRecord], a: str, b: str, params: Params = DEFAULT,
         alt_names: Iterable[AltName] = ()) -> Resolution:
    """Undoes the link between name nodes ``a`` and ``b`` (keys, e.g. ``PER:kim``): they never merge
    again, in this run or later ones (the split is recorded on both entities)."""
    return resolve((), existing, alt_names, params, splits=[(a, b)])
