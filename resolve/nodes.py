"""Name nodes: every mention of one type and one normal form, with the evidence they carry.

A node is a value: its aliases (surface forms with their posts and context tokens), sorted, so two
nodes built from the same mentions in any order, or rebuilt from an :class:`EntityRecord`, compare
equal. Combining is a set union, so adding a mention twice changes nothing (idempotence).

For Beam: ``node_of_mention`` per element, then ``CombinePerKey(combine_nodes)`` on ``node.key``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from mmkg.resolve.normalise import NameForm, name_form
from mmkg.resolve.records import Alias, EntityRecord, Mention, node_key
from mmkg.resolve.vectors import TextVector, mean_vector, sample

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
# Context tokens this short carry no information ("a", "s" left by a tokeniser...).
MIN_CONTEXT_TOKEN = 2


@dataclass(frozen=True)
class NameNode:
    key: str
    type: str
    norm: str
    aliases: Tuple[Alias, ...]  # sorted by name; post_ids and context sorted

    @cached_property
    def form(self) -> NameForm:
        # Every alias of its own (not a short form standing for this node in a post) has this norm;
        # the first is as good as any for the derived fields but ``handle`` (handle only if every
        # one is).
        own = [a for a in self.aliases if not a.stands_for]
        if not own:
            return name_form(self.norm, self.type)
        f = name_form(own[0].name, self.type)
        handle = all(name_form(a.name, self.type).handle for a in own)
        return NameForm(f.norm, f.tokens, f.compact, f.acronym, handle)

    @cached_property
    def posts(self) -> FrozenSet[str]:
        return frozenset(p for a in self.aliases for p in a.post_ids)

    @cached_property
    def context(self) -> FrozenSet[str]:
        return frozenset(t for a in self.aliases for t in a.context)

    @cached_property
    def vector(self) -> Optional[TextVector]:
        """The mean text vector of a sample of its posts (``resolve.vectors``), or None."""
        kept = sample(v for a in self.aliases for v in a.vectors)
        return mean_vector(code for _, code in kept)

    @cached_property
    def beside(self) -> Dict[str, FrozenSet[str]]:
        """The normal form of each short form written beside this name in one post ("trump" beside
        "Donald Trump") -> those posts."""
        out: Dict[str, set] = {}
        for a in self.aliases:
            if a.stands_for:
                out.setdefault(name_form(a.name, self.type).norm, set()).update(a.post_ids)
        return {k: frozenset(v) for k, v in out.items()}


def context_tokens(names: Iterable[str], own: str = "") -> Tuple[str, ...]:
    """The tokens of the co-occurring names (normal forms), minus the mention's own name's."""
    mine = set(name_form(own).tokens) if own else set()
    out = set()
    for n in names:
        for t in name_form(n).tokens:
            if len(t) >= MIN_CONTEXT_TOKEN and t not in mine:
                out.add(t)
    return tuple(sorted(out))


def _merge_aliases(groups: Iterable[Iterable[Alias]]) -> Tuple[Alias, ...]:
    posts: Dict[Tuple[str, str], set] = {}
    ctx: Dict[Tuple[str, str], set] = {}
    vecs: Dict[Tuple[str, str], list] = {}
    for group in groups:
        for a in group:
            k = (a.name, a.stands_for)
            posts.setdefault(k, set()).update(a.post_ids)
            ctx.setdefault(k, set()).update(a.context)
            vecs.setdefault(k, []).extend(a.vectors)
    return tuple(Alias(k[0], tuple(sorted(posts[k])), tuple(sorted(ctx[k])), k[1], sample(vecs[k]))
                 for k in sorted(posts))


def node_of_mention(m: Mention) -> NameNode:
    """The one-mention node of a mention (empty normal form: raises ValueError). A short form that
    stands for a longer name of its post (``m.stands_for``) is a mention of that name's node."""
    form = name_form(m.name, m.type)
    if form.empty:
        raise ValueError(f"a name with nothing to compare: {m.name!r}")
    surface = " ".join(m.name.split())
    norm = m.stands_for or form.norm
    # A short form's context keeps the other words of the name it stands for: a comparison leaves out
    # both names' own words anyway (``scoring.context_features``).
    alias = Alias(surface, (m.post_id,), context_tokens(m.context, m.name), m.stands_for,
                  ((m.post_id, m.vector),) if m.vector else ())
    return NameNode(node_key(m.type, norm), m.type, norm, (alias,))


def combine_nodes(nodes: Sequence[NameNode]) -> NameNode:
    """The union of nodes with one key (commutative, associative, idempotent)."""
    first = nodes[0]
    if any(n.key != first.key for n in nodes):
        raise ValueError("combine_nodes takes nodes of one key")
    return NameNode(first.key, first.type, first.norm, _merge_aliases(n.aliases for n in nodes))


def nodes_of_mentions(mentions: Iterable[Mention]) -> Dict[str, NameNode]:
    by_key: Dict[str, List[NameNode]] = {}
    for m in mentions:
        if m.type not in ENTITY_TYPES or not name_form(m.name, m.type).tokens:
            continue
        n = node_of_mention(m)
        by_key.setdefault(n.key, []).append(n)
    return {k: combine_nodes(v) for k, v in by_key.items()}


def nodes_of_records(records: Iterable[EntityRecord]) -> Dict[str, NameNode]:
    """The name nodes a set of entity records holds (aliases regrouped by the node they belong to)."""
    by_key: Dict[str, List[NameNode]] = {}
    for r in records:
        for a in r.aliases:
            norm = a.stands_for or name_form(a.name, r.type).norm
            if not norm:
                continue
            key = node_key(r.type, norm)
            by_key.setdefault(key, []).append(NameNode(key, r.type, norm, (a,)))
    return {k: combine_nodes(v) for k, v in by_key.items()}


def merge_node_maps(*maps: Dict[str, NameNode]) -> Dict[str, NameNode]:
    out: Dict[str, List[NameNode]] = {}
    for m in maps:
        for k, n in m.items():
            out.setdefault(k, []).append(n)
    return {k: (v[0] if len(v) == 1 else combine_nodes(v)) for k, v in out.items()}
