"""ResolveEntities: the typed names of a run's posts and triples (and the entities a graph already
holds) in, one :class:`resolve.records.Resolution` out, as a PCollection of one element (a side
input for the graph writer).

The stages of ``resolve/`` (docs/resolution.md), laid out so that the work on names scales out:

0. the graph's entities: ``ReadKnownEntities``, one worker, when the job runs (a
   ``KnownEntities`` of JSON texts);
1. mentions: per post, its typed mentions and the endpoints of its triples
   (``resolver.mentions_of_post``, each with the post's other names as context);
2. name nodes: ``node_of_mention`` keyed by ``node.key``, ``CombinePerKey(combine_nodes)``; the
   existing entities enter the same combine through ``nodes_of_records``;
3. blocking: ``block_keys`` -> ``GroupByKey`` -> ``block_pairs`` (only pairs with a node whose
   evidence changed, as ``resolver.resolve`` does; so an unchanged node enters only the blocks
   that hold a changed one), plus the pairs with alternate_names support; distinct pairs ->
   ``score_pair`` (nodes, pickled, and ``alt_support`` as side inputs);
4. one global step over the (small) nodes and decisions: the recorded links of unchanged pairs,
   ``cluster`` and ``entity_records``.

No all-pairs pass: a pair is compared only where it shares a blocking key. The result equals
``resolver.resolve`` over the same mentions, records and alternate_names triples (tested).
"""
from __future__ import annotations

import hashlib
import json
import pickle
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.utils.shared import Shared

from mmkg.kg.queries import entity_states
from mmkg.kg.rows import entity_row, record_fingerprint
from mmkg.kg.schema import ensure_schema
from mmkg.kg.settings import GraphSettings
from mmkg.resolve.blocking import block_keys, block_pairs
from mmkg.resolve.cluster import cluster, entity_records
from mmkg.resolve.nodes import ENTITY_TYPES, combine_nodes, node_of_mention, nodes_of_records
from mmkg.resolve.normalise import name_form, normalise
from mmkg.resolve.records import (
    MANUAL_SPLIT,
    Alias,
    AltName,
    Decision,
    EntityRecord,
    Resolution,
    in_post_nodes,
    node_key,
)
from mmkg.resolve.resolver import _recorded, alt_support, carried_over, mentions_of_post, stale_nodes
from mmkg.resolve.scoring import DEFAULT, Params, rules_of, score_pair
from mmkg.resolve.text_settings import TextSettings
from mmkg.schemas.records import NER_CANDIDATE, Post, Triple
from mmkg.transforms import counters

ALTERNATE_NAMES = frozenset({"/per/per/alternate_names", "/org/org/alternate_names"})


def clean_name(name) -> str:
    """The name as the graph writes it (kg.rows cleans names the same way)."""
    return " ".join(unicodedata.normalize("NFKC", str(name)).split())


def _resolvable(name: str, etype: Optional[str]) -> bool:
    return etype in ENTITY_TYPES and bool(name_form(name, etype).tokens)


def post_names(post: Post) -> List[Tuple[str, Tuple[str, str]]]:
    """(post id, (name, type)) for the typed mentions the graph writes of a post."""
    out = []
    for m in post.entities or ():
        if m.source == NER_CANDIDATE:
            continue
        name = clean_name(m.text)
        if _resolvable(name, m.type):
            out.append((post.post_id, (name, m.type)))
    return out


def named_post_text(post: Post) -> List[Tuple[str, str]]:
    """(post id, text) of a post that names an entity the graph writes: the posts whose text
    vectors resolution reads."""
    return [(post.post_id, post.text)] if post_names(post) else []


def triple_names(t: Triple) -> List[Tuple[str, Tuple[str, str]]]:
    out = []
    if not t.post_id:
        return out
    for name, etype in ((t.head, t.head_type), (t.tail, t.tail_type)):
        name = clean_name(name)
        if _resolvable(name, etype):
            out.append((t.post_id, (name, etype)))
    return out


def triple_alt_names(t: Triple) -> List[AltName]:
    if t.relation not in ALTERNATE_NAMES or not t.post_id or t.head_type != t.tail_type:
        return []
    return [AltName(clean_name(t.head), clean_name(t.tail), t.head_type, t.post_id)]


NAME, VECTOR = "name", "vector"  # what a post's grouped values are


def _tag_name(item):
    post_id, name_type = item
    return post_id, (NAME, name_type)


class _TextVectors(beam.DoFn):
    """(post id, text) -> (post id, (VECTOR, code)): the text vector of each post (one encoder per
    worker process, loaded on the first post, so a run with text vectors off or without posts never
    pays for it)."""

    def __init__(self, settings: TextSettings) -> None:
        self._settings = settings
        self._shared = Shared()
        self._encoder = None
        self._vectors = counters.counter(counters.RESOLVE_TEXT_VECTORS)

    def _load(self):
        # Imported here: building the job or reading a graph does not import torch.
        from mmkg.resolve.text_encoder import TextEncoder
        from mmkg.runtime.threads import threads_per_worker, use_threads

        s = self._settings
        use_threads(threads_per_worker(s.torch_threads, s.workers_per_machine))
        return TextEncoder(s.encoder)

    def process(self, item):
        post_id, text = item
        if self._encoder is None:
            self._encoder = self._shared.acquire(self._load, tag=self._settings.encoder)
        code = self._encoder(text)
        if code:
            self._vectors.inc()
            yield post_id, (VECTOR, code)


class _Mentions(beam.DoFn):
    def __init__(self) -> None:
        self._mentions = counters.counter(counters.RESOLVE_MENTIONS)

    def process(self, item):
        post_id, values = item
        names = sorted({v for kind, v in values if kind == NAME})
        codes = sorted(v for kind, v in values if kind == VECTOR)
        for m in mentions_of_post(post_id, names, vector=codes[0] if codes else ""):
            self._mentions.inc()
            yield m


def _combine(nodes: Iterable) -> object:
    return combine_nodes(list(nodes))


def _keyed_record_nodes(record: EntityRecord):
    return list(nodes_of_records([record]).items())


def _fingerprint(node) -> str:
    """Stands for a name node in the test "did this run change it" (a string is cheap to hold in a
    side input; a node and its aliases are many objects)."""
    return hashlib.sha1(repr((node.type, node.norm, node.aliases)).encode("utf-8")).hexdigest()


def _pack(item):
    key, node = item
    return key, pickle.dumps(node, protocol=pickle.HIGHEST_PROTOCOL)


def _flag_changed(item, old: Dict[str, str], stale: FrozenSet[str]):
    """(key, node, whether this run changed it): a node the graph did not hold, or holds otherwise,
    or holds in a record made under other rules (its links are scored again)."""
    key, node = item
    return key, node, key in stale or old.get(key) != _fingerprint(node)


def _changed_block_keys(flagged):
    key, node, changed = flagged
    if changed:
        yield from (bk for bk, _ in block_keys(node))


def _block_entries(flagged, live: FrozenSet[str]):
    # Only blocks with a changed member make pairs (_pairs_of_block), so an unchanged node enters
    # only those: a run against a large graph shuffles its neighbourhood, not every old name.
    key, node, changed = flagged
    for bk, role in block_keys(node):
        if changed or bk in live:
            yield bk, (key, role, changed)


def _pairs_of_block(item):
    bk, members = item
    members = list(members)
    if len(members) < 2:
        return
    changed = {k for k, _, c in members if c}
    if not changed:
        return
    for a, b in block_pairs([(k, role) for k, role, _ in members], bk):
        if a in changed or b in changed:
            yield a, b


def _alt_pairs(_, alt: Dict[Tuple[str, str], int], nodes: Dict[str, object]):
    return [p for p in alt if p[0] in nodes and p[1] in nodes]


class _Score(beam.DoFn):
    def __init__(self, params: Params) -> None:
        self._params = params
        self._scored = counters.counter(counters.RESOLVE_PAIRS_SCORED)

    def process(self, pair, nodes, alt):
        a, b = pair
        self._scored.inc()
        d = score_pair(pickle.loads(nodes[a]), pickle.loads(nodes[b]), alt.get((a, b), 0), self._params)
        if d is not None:
            yield d


def _alt_table(alt_lists: Iterable[AltName]) -> Dict[Tuple[str, str], int]:
    return alt_support(alt_lists)


class _Cluster(beam.DoFn):
    """The one global step: recorded links of unchanged pairs + fresh decisions -> entities."""

    def __init__(self, params: Params) -> None:
        self._params = params
        self._names = counters.counter(counters.RESOLVE_NAME_NODES)
        self._entities = counters.counter(counters.RESOLVE_ENTITIES)
        self._merges = counters.counter(counters.RESOLVE_MERGES)

    def process(self, _, nodes, fresh_pairs, fresh_decisions, known):
        existing = known.records
        nodes = {k: pickle.loads(v) for k, v in nodes.items()}  # packed: see nodes_side
        fresh = set(fresh_pairs)
        decisions = []
        rules = rules_of(self._params)
        for (pair, rule), d in _recorded(existing, rules).items():
            if rule == MANUAL_SPLIT:
                decisions.append(d)
            elif pair not in fresh and pair[0] in nodes and pair[1] in nodes:
                decisions.append(d)
        decisions.extend(fresh_decisions)
        uf, attachments = cluster(nodes, decisions, self._params)
        links = decisions + attachments
        entities = entity_records(nodes, uf, links, rules)
        node_entity = {k: e.key for e in entities.values() for k in e.nodes}
        redirects, moves = carried_over(existing, node_entity)
        self._names.inc(len(nodes))
        self._entities.inc(len(entities))
        self._merges.inc(len(nodes) - len(entities))
        yield Resolution(entities=entities, node_entity=node_entity, mention_entity={}, redirects=redirects,
                         moves=moves, decisions=tuple(sorted(links, key=lambda d: (d.pair, d.rule))),
                         read=redirect_reads(redirects, known), in_post=in_post_nodes(entities.values()))


class ResolveEntities(beam.PTransform):
    """``{"posts": PCollection[Post], "triples": PCollection[Triple], "known": ...} |
    ResolveEntities()`` -> a PCollection of exactly one :class:`Resolution`.

    ``known``: a PCollection of one :class:`KnownEntities`, what the graph already holds
    (:class:`ReadKnownEntities`; its records: all of them, or at least every one sharing a
    blocking key with a new name and those their decisions point to; its alternate_names triples:
    this run's are taken from ``triples``). Any input may be missing.
    """

    def __init__(self, params: Params = DEFAULT, text: TextSettings = TextSettings(),
                 label: Optional[str] = None) -> None:
        super().__init__(label)
        self._params = params
        self._text = text

    def expand(self, inputs):
        p = next(v for v in inputs.values() if v is not None).pipeline
        posts, triples = inputs.get("posts"), inputs.get("triples")
        known = _known_or_empty(p, inputs.get("known"))
        named = []
        if posts is not None:
            named.append(posts | "PostNames" >> beam.FlatMap(post_names) | "TagPostNames" >> beam.Map(_tag_name))
            if self._text.on:
                named.append(posts
                             | "NamedPostTexts" >> beam.FlatMap(named_post_text)
                             | "TextVectors" >> beam.ParDo(_TextVectors(self._text)))
        if triples is not None:
            named.append(triples | "TripleNames" >> beam.FlatMap(triple_names)
                         | "TagTripleNames" >> beam.Map(_tag_name))
        if not named:
            named.append(p | "NoNames" >> beam.Create([]))
        mentions = (
            named
            | "AllNames" >> beam.Flatten()
            | "NamesByPost" >> beam.GroupByKey()
            | "Mentions" >> beam.ParDo(_Mentions())
        )
        new_nodes = mentions | "NodeOfMention" >> beam.Map(lambda m: (lambda n: (n.key, n))(node_of_mention(m)))
        old_nodes = (
            known
            | "ExistingRecords" >> beam.FlatMap(lambda k: k.records)
            | "RecordNodes" >> beam.FlatMap(_keyed_record_nodes)
            | "CombineOldNodes" >> beam.CombinePerKey(_combine)
        )
        nodes = (
            (new_nodes, old_nodes)
            | "AllNodes" >> beam.Flatten()
            | "CombineNodes" >> beam.CombinePerKey(_combine)
        )
        # Side inputs of every name node: packed as bytes, because a Beam worker measures a cached
        # side input object by object, and that (not resolving) was most of a run against a large
        # graph (docs/resolution.md).
        nodes_side = beam.pvalue.AsDict(nodes | "PackNodes" >> beam.Map(_pack))

        alts = [known | "KnownAltNames" >> beam.FlatMap(lambda k: k.alt_names)]
        if triples is not None:
            alts.append(triples | "RunAltNames" >> beam.FlatMap(triple_alt_names))
        alt_table = (
            alts
            | "AllAltNames" >> beam.Flatten()
            | "AltNamesList" >> beam.combiners.ToList()
            | "AltSupport" >> beam.Map(_alt_table)
        )
        alt_side = beam.pvalue.AsSingleton(alt_table)

        old_prints = beam.pvalue.AsDict(
            old_nodes | "OldFingerprints" >> beam.Map(lambda kn: (kn[0], _fingerprint(kn[1]))))
        stale = beam.pvalue.AsSingleton(
            known | "StaleNodes" >> beam.Map(lambda k, rules: frozenset(stale_nodes(k.records, rules)),
                                             rules_of(self._params)))
        flagged = nodes | "FlagChanged" >> beam.Map(_flag_changed, old=old_prints, stale=stale)
        live = (
            flagged
            | "ChangedBlockKeys" >> beam.FlatMap(_changed_block_keys)
            | "DistinctChangedKeys" >> beam.Distinct()
            | "ChangedKeyList" >> beam.combiners.ToList()
            | "ChangedKeySet" >> beam.Map(frozenset)
        )
        block_pairs_ = (
            flagged
            | "BlockKeys" >> beam.FlatMap(_block_entries, live=beam.pvalue.AsSingleton(live))
            | "Blocks" >> beam.GroupByKey()
            | "BlockPairs" >> beam.FlatMap(_pairs_of_block)
        )
        alt_pairs = alt_table | "AltPairs" >> beam.FlatMap(lambda alt, ns: _alt_pairs(None, alt, ns), ns=nodes_side)
        fresh = (
            (block_pairs_, alt_pairs)
            | "CandidatePairs" >> beam.Flatten()
            | "DistinctPairs" >> beam.Distinct()
        )
        decisions = fresh | "ScorePairs" >> beam.ParDo(_Score(self._params), nodes=nodes_side, alt=alt_side)
        return (
            p
            | "OneResolution" >> beam.Create([None])
            | "Cluster" >> beam.ParDo(
                _Cluster(self._params), nodes=nodes_side, fresh_pairs=beam.pvalue.AsList(fresh),
                fresh_decisions=beam.pvalue.AsList(decisions), known=beam.pvalue.AsSingleton(known))
        )


# -- the record an Entity node keeps (its ``resolution`` property), and reading it back ----------


def record_json(record: EntityRecord, alt_names: Iterable[AltName] = ()) -> str:
    """What the graph keeps of a resolved entity, as one JSON string: its name nodes, every alias
    with its posts and context tokens, every decision that touches it (rule, score, firm side,
    features) and the alternate_names triples about its names; enough for a later run to resolve
    against it exactly as if it had seen the posts again."""
    nodes = set(record.nodes)
    alt = sorted({(a.head, a.tail, a.type, a.post_id) for a in alt_names
                  if a.type == record.type and (_node_of(a.head, a.type) in nodes or _node_of(a.tail, a.type) in nodes)})
    return json.dumps({
        "key": record.key, "name": record.name, "type": record.type, "nodes": list(record.nodes),
        "aliases": [_alias_json(a) for a in record.aliases],
        "decisions": [{"a": d.a, "b": d.b, "rule": d.rule, "score": d.score, "firm": d.firm,
                       "dependent": d.dependent, "features": [list(f) for f in d.features]}
                      for d in record.decisions],
        "alt_names": [list(a) for a in alt], "rules": record.rules,
    }, ensure_ascii=False, sort_keys=True)


def _alias_json(a: Alias) -> dict:
    out = {"name": a.name, "posts": list(a.post_ids), "context": list(a.context)}
    if a.stands_for:  # only where set: records of other aliases read as they did
        out["stands_for"] = a.stands_for
    if a.vectors:
        out["vectors"] = [list(v) for v in a.vectors]
    return out


def _node_of(name: str, etype: str) -> str:
    return node_key(etype, normalise(name, etype))


def _alt_names_of(d: dict) -> List[AltName]:
    return [AltName(*a) for a in d.get("alt_names", ())]


def record_of_json(text: str) -> Tuple[EntityRecord, List[AltName]]:
    d = json.loads(text)
    record = EntityRecord(
        key=d["key"], name=d["name"], type=d["type"],
        aliases=tuple(Alias(a["name"], tuple(a["posts"]), tuple(a["context"]), str(a.get("stands_for", "")),
                            tuple((str(p), str(c)) for p, c in a.get("vectors", ())))
                      for a in d["aliases"]),
        decisions=tuple(Decision(x["a"], x["b"], x["rule"], float(x["score"]), bool(x["firm"]), x["dependent"],
                                 tuple((str(k), float(v)) for k, v in x["features"])) for x in d["decisions"]),
        nodes=tuple(d["nodes"]), rules=str(d.get("rules", "")))
    return record, _alt_names_of(d)


def _graph_records(entities: Iterable[dict]):
    """(record JSON text, the alternate_names triples it holds) per entity of
    ``kg.queries.entity_states``: a node with a ``resolution`` property is read back exactly (the
    record itself is built where it is used: ``KnownEntities.records``); one written without
    resolution (an earlier version, ``--no-resolve``) becomes a record of its aliases with the
    posts that mention it (its alternate_names edges come separately)."""
    for e in entities:
        if e.get("resolution"):
            yield e["resolution"], _alt_names_of(json.loads(e["resolution"]))
            continue
        posts = tuple(sorted(set(e.get("posts") or ())))
        names = sorted(set(e.get("aliases") or ()) | {e["name"]})
        aliases = tuple(Alias(n, posts, ()) for n in names if _resolvable(n, e["type"]))
        if aliases:
            yield record_json(EntityRecord(e["key"], e["name"], e["type"], aliases, (), ())), ()


def entity_rows(resolution: Resolution, alt_names: List[AltName], stored: Dict[str, str]):
    """Graph rows of the entities whose record differs from what the graph holds (``stored``, as
    the run read it; each row carries its digest, so the writer refuses it if the graph's record
    has changed since)."""
    for key, record in resolution.entities.items():
        text = record_json(record, alt_names)
        if stored.get(key) != text:
            yield entity_row(record.key, record.name, record.type, record.alias_names(), text,
                             read=record_fingerprint(stored.get(key)))


def redirect_reads(redirects: Dict[str, str], known: "KnownEntities") -> Dict[str, Optional[str]]:
    """The digest of the record of each entity to fold away, as the run read it
    (``Resolution.read``, ``kg.writer.apply_redirects``); only those are hashed."""
    if not redirects:
        return {}
    return {key: record_fingerprint(text) for key, text in known.stored if key in redirects}


def _entity_rows(resolution: Resolution, alt_names: List[AltName], known: "KnownEntities"):
    return entity_rows(resolution, alt_names, dict(known.stored))


class EntityRows(beam.PTransform):
    """``{"resolution": ..., "triples": ..., "known": ...} | EntityRows()``: the graph rows
    (``kg.rows.entity_row``) of every entity new or changed by this run. ``known``: a PCollection
    of one :class:`KnownEntities` (the ``resolution`` JSON each entity has in the graph, and the
    graph's alternate_names triples); missing means an empty graph."""

    def expand(self, inputs):
        resolution = inputs["resolution"]
        p = resolution.pipeline
        known = _known_or_empty(p, inputs.get("known"))
        alts = [known | "KnownAltNames" >> beam.FlatMap(lambda k: k.alt_names)]
        if inputs.get("triples") is not None:
            alts.append(inputs["triples"] | "RunAltNames" >> beam.FlatMap(triple_alt_names))
        alt_list = (alts | "AllAltNames" >> beam.Flatten()
                    | "DistinctAltNames" >> beam.Distinct() | "AltNamesList" >> beam.combiners.ToList())
        return resolution | "Rows" >> beam.FlatMap(
            _entity_rows, alt_names=beam.pvalue.AsSingleton(alt_list), known=beam.pvalue.AsSingleton(known))


@dataclass(frozen=True)
class KnownEntities:
    """What a graph already holds, for resolving a run against it: the records, its
    alternate_names triples, and each entity's stored ``resolution`` JSON (by key)."""

    record_texts: Tuple[str, ...] = ()  # record_json of each record: a few strings, not many objects
    alt_names: Tuple[AltName, ...] = ()
    stored: Tuple[Tuple[str, str], ...] = ()

    @cached_property
    def records(self) -> Tuple[EntityRecord, ...]:
        return tuple(record_of_json(t)[0] for t in self.record_texts)

    @classmethod
    def of_graph(cls, entities: Sequence[dict], alt_edges: Sequence[Tuple[str, str, str, str]] = ()) -> "KnownEntities":
        """From ``kg.queries.entity_states``."""
        found = list(_graph_records(entities))  # the stored texts as they are: no second serialising
        alts = sorted(set(AltName(*e) for e in alt_edges) | {a for _, al in found for a in al})
        stored = tuple(sorted((e["key"], e["resolution"]) for e in entities if e.get("resolution")))
        return cls(tuple(text for text, _ in found), tuple(alts), stored)


def _known_or_empty(p, known):
    return known if known is not None else p | "NoKnownEntities" >> beam.Create([KnownEntities()])


class _ReadKnown(beam.DoFn):
    def __init__(self, graph: GraphSettings) -> None:
        self._graph = graph

    def process(self, _):
        driver = self._graph.driver()
        try:
            ensure_schema(driver, self._graph.database)
            yield KnownEntities.of_graph(*entity_states(driver, self._graph.database))
        finally:
            driver.close()


class ReadKnownEntities(beam.PTransform):
    """``p | ReadKnownEntities(graph)``: a PCollection of one :class:`KnownEntities`, read from
    the graph when the job runs, not when it is built. So the graph's state never travels inside
    the job (a Dataflow or Flink job has a size limit, and a template built once would carry the
    state of the day it was built), and every write of the run waits for it: the graph rows all
    take the resolution, which needs this read, as a side input."""

    def __init__(self, graph: GraphSettings, label: Optional[str] = None) -> None:
        super().__init__(label)
        self._graph = graph

    def expand(self, p):
        return p | "Impulse" >> beam.Impulse() | "Read" >> beam.ParDo(_ReadKnown(self._graph))
