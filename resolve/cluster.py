"""From links to entities: union-find over firm links, then dependents joined on context, then a
canonical name per entity.

1. Firm links (compact, fuzzy, alt-names with enough support) are unions, in sorted order.
2. Dependents (the short side of subset, acronym and handle-affix links) are taken longest name
   first ("Kim Jong" before "Kim"): for each, its links are grouped by the entity the other side
   is in now; the best entity is joined if its score reaches the threshold for the dependent's kind
   and beats the runner-up entity by ``params.margin``. So "Trump" joins "Donald Trump" when no
   other Trump competes or when its context says which one; "Kim" alone stays alone. Where several
   entities compete, the scores leave out the posts' text (it tells topics, not persons apart).
3. ``manual-split`` decisions are cannot-links: no union that would put the two nodes in one entity.

Everything is sorted and every tie broken by key, so the result is a function of the nodes and the
links alone, whatever order they came in. This is one global step (union-find over name nodes, not
mentions): in Beam, the links of all blocks meet on one worker (a CombineGlobally).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Sequence, Tuple

from mmkg.resolve.nodes import NameNode
from mmkg.resolve.records import MANUAL_SPLIT, Alias, Decision, EntityRecord
from mmkg.resolve.scoring import DEFAULT, RULES, Params, dependent_kind, place_code, text_score, threshold
from mmkg.resolve.unionfind import UnionFind

ATTACH = "attach"


def _blocked(uf: UnionFind, a: str, b: str, vetoes: Sequence[Tuple[str, str]]) -> bool:
    ra, rb = uf.find(a), uf.find(b)
    if ra == rb:
        return False
    for x, y in vetoes:
        rx, ry = uf.find(x), uf.find(y)
        if {rx, ry} == {ra, rb}:
            return True
    return False


def cluster(nodes: Dict[str, NameNode], decisions: Iterable[Decision],
            params: Params = DEFAULT) -> Tuple[UnionFind, List[Decision]]:
    """The union-find of the nodes and the attachment decisions made in step 2."""
    decisions = sorted(decisions, key=lambda d: (d.pair, d.rule))
    vetoes = sorted({d.pair for d in decisions if d.rule == MANUAL_SPLIT})
    uf = UnionFind(sorted(nodes))
    for d in decisions:
        if d.rule == MANUAL_SPLIT or not d.firm or d.a not in nodes or d.b not in nodes:
            continue
        if d.pair in vetoes or _blocked(uf, d.a, d.b, vetoes):
            continue
        uf.union(d.a, d.b)
    by_dependent: Dict[str, List[Decision]] = {}
    for d in decisions:
        if not d.firm and d.rule != MANUAL_SPLIT and d.dependent and d.a in nodes and d.b in nodes:
            if d.pair not in vetoes:
                by_dependent.setdefault(d.dependent, []).append(d)
    order = sorted(by_dependent, key=lambda k: (-len(nodes[k].form.tokens), -len(nodes[k].form.compact), k))
    attachments: List[Decision] = []
    for dep in order:
        live = [d for d in by_dependent[dep] if not uf.same(dep, d.other)]
        # Several entities to choose from: the posts' text does not choose (scoring.TEXT_BLIND_KINDS).
        contested = len({uf.label(d.other) for d in live}) > 1
        best: Dict[str, Tuple[float, Decision]] = {}
        for d in live:
            score = d.score
            if contested:
                score -= text_score(d.features, params, dependent_kind(nodes[dep], d.rule, nodes[d.other]))
            label = uf.label(d.other)
            if label not in best or score > best[label][0] or (
                    score == best[label][0] and d.pair < best[label][1].pair):
                best[label] = (score, d)
        if not best:
            continue
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        top_score, top = ranked[0][1]
        runner = ranked[1][1][0] if len(ranked) > 1 else None
        other = top.other
        kind = dependent_kind(nodes[dep], top.rule, nodes[other])
        need = threshold(kind, params)
        margin_ok = runner is None or top_score - runner >= params.margin
        if top_score >= need and margin_ok:
            if _blocked(uf, dep, other, vetoes):
                continue
            uf.union(dep, other)
            attachments.append(Decision(
                dep, other, ATTACH, top_score, True, dep,
                (("via_" + top.rule.replace("-", "_"), 1.0), ("kind_" + kind, 1.0), ("threshold", need),
                 ("runner_up", -1.0 if runner is None else runner), ("entities_considered", float(len(ranked))))
                + ((("text_left_out", 1.0),) if contested else ())))
    return uf, attachments


def _words(node: NameNode) -> int:
    """How many words a name has, initials counting as one: "D . C" is an abbreviation, as "DC" is,
    and names no entity that holds "Washington DC"."""
    tokens = node.form.tokens
    return 1 if all(len(t) == 1 for t in tokens) else len(tokens)


def canonical_node(members: Sequence[NameNode]) -> NameNode:
    """The node that names an entity: written as a name rather than a handle or a place's code ("CA"
    names no entity that holds "California", however often it is written), of two words or more,
    used in the most posts, then the longest, then the first by key."""
    return min(members, key=lambda n: (n.form.handle, place_code(n), _words(n) < 2, -len(n.posts),
                                       -_words(n), n.key))


def display_name(node: NameNode) -> str:
    """The surface form of a node used in the most posts (then not a handle, then the first); never a
    short form that stands for it in a post ("Kim" beside "Kim Kardashian")."""
    return min(node.aliases, key=lambda a: (bool(a.stands_for), -len(a.post_ids), a.name[:1] in "@#", a.name)).name


def entity_records(nodes: Dict[str, NameNode], uf: UnionFind,
                   decisions: Sequence[Decision], rules: str = RULES) -> Dict[str, EntityRecord]:
    """One record per entity; ``rules``: the version its decisions were made under
    (``scoring.rules_of(params)``)."""
    groups: Dict[str, List[NameNode]] = {}
    for k, n in nodes.items():
        groups.setdefault(uf.label(k), []).append(n)
    touching: Dict[str, List[Decision]] = {}
    for d in decisions:
        touching.setdefault(d.a, []).append(d)
        if d.b != d.a:
            touching.setdefault(d.b, []).append(d)
    out: Dict[str, EntityRecord] = {}
    for members in groups.values():
        canon = canonical_node(members)
        aliases: List[Alias] = sorted((a for n in members for a in n.aliases), key=lambda a: (a.name, a.stands_for))
        decs = {(d.pair, d.rule): d for n in members for d in touching.get(n.key, ())}
        out[canon.key] = EntityRecord(
            key=canon.key, name=display_name(canon), type=canon.type, aliases=tuple(aliases),
            decisions=tuple(decs[k] for k in sorted(decs)), nodes=tuple(sorted(n.key for n in members)),
            rules=rules)
    return dict(sorted(out.items()))
