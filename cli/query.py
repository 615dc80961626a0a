"""``mmkg query``: ask the knowledge graph.

    mmkg query "MATCH (e:Entity) WHERE e.type = $t RETURN e.name LIMIT 5" -p t=PER
    mmkg query stats                       counts by node label and relationship type
    mmkg query entity NAME                 the entity's relations, confidence, supporting posts
    mmkg query evidence HEAD REL TAIL      the posts and images behind one relation
    mmkg query show NAME --html out.html   a picture of the entity's neighbourhood

With no --neo4j-uri / NEO4J_URI, it opens the embedded store under --data-dir (or, while a run
has it open, connects to that run's server).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from mmkg.cli.graph_flags import graph_to_open
from mmkg.kg import queries
from mmkg.kg.embedded import StoreBusyError, graph_settings
from mmkg.kg.html import write_neighbourhood_html
from mmkg.kg.statements import RELATION_TYPES
from mmkg.pipeline.options import add_graph_flags
from mmkg.resolve.scoring import params_of, what_it_needs

CANNED = ("stats", "entity", "evidence", "show")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmkg query",
        description="Ask the knowledge graph: a Cypher query, or one of the canned questions below.",
        epilog="\n\n".join(__doc__.split("\n\n")[1:3]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("words", nargs="+", metavar="QUERY", help="a Cypher query or a canned question")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="query parameter; VALUE is read as JSON when it parses, else as text")
    parser.add_argument("--html", default=None, help="for `show`: the HTML file to write")
    parser.add_argument("--limit", type=int, default=100, help="for `show`: at most this many edges of each kind")
    parser.add_argument("--write", action="store_true", help="run the Cypher query in a write transaction")
    parser.add_argument("--json", action="store_true", help="print rows as JSON lines instead of a table")
    parser.add_argument("--max-width", type=int, default=60, help="cut table cells longer than this (0: never)")
    add_graph_flags(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    explicit, missing = graph_to_open(args, "mmkg query")
    if missing:
        print(missing, file=sys.stderr)
        return 1
    try:
        params = _params(args.param)
    except ValueError as e:
        print(f"mmkg query: {e}", file=sys.stderr)
        return 2
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    try:
        with graph_settings(args.data_dir, explicit, attach=True) as settings:
            driver = settings.driver()
            try:
                return _dispatch(args, params, driver, settings.database)
            finally:
                driver.close()
    except StoreBusyError as e:
        print(f"mmkg query: {e}", file=sys.stderr)
        return 1
    except (Neo4jError, ServiceUnavailable) as e:
        print(f"mmkg query: {getattr(e, 'message', None) or e}", file=sys.stderr)
        return 1


def _dispatch(args, params: Dict[str, Any], driver, database: Optional[str]) -> int:
    words = args.words
    head = words[0].lower()
    if head == "stats" and len(words) == 1:
        return _stats(driver, database, args)
    if head == "entity" and len(words) >= 2:
        return _entity(driver, database, " ".join(words[1:]), args)
    if head == "evidence" and len(words) == 4:
        return _evidence(driver, database, words[1], words[2], words[3], args)
    if head == "show" and len(words) >= 2:
        return _show(driver, database, " ".join(words[1:]), args)
    if head in CANNED:
        print(f"mmkg query: wrong arguments for `{head}`; see `mmkg query --help`", file=sys.stderr)
        return 2
    keys, rows = queries.run_cypher(driver, " ".join(words), params, database, write=args.write)
    _print(keys, rows, args)
    return 0


def _stats(driver, database, args) -> int:
    counts = queries.stats(driver, database)
    rows = [["node", label, n] for label, n in counts["labels"]]
    rows += [["relationship", rel_type, n] for rel_type, n in counts["types"]]
    _print(["kind", "name", "count"], rows, args)
    return 0


def _entity(driver, database, name: str, args) -> int:
    found = queries.entity_details(driver, name, database)
    if not found:
        _not_found(driver, database, name)
        return 1
    print("entity: " + "; ".join(f"{e['name']} ({e['type']})" for e in found))
    for e in found:
        _why(e, len(found) > 1)
    keys, rows = queries.entity_relations(driver, name, database)
    _print(keys, rows, args)
    return 0


def _why(entity: Dict[str, Any], several: bool) -> None:
    """The aliases of an entity and the resolution decisions that merged them (or kept a name
    apart), from the ``resolution`` record the run wrote on the node."""
    head = f"  {entity['name']} ({entity['type']}) " if several else ""
    if len(entity["aliases"]) > 1 or several:
        print(f"{head}aliases: " + ", ".join(entity["aliases"]))
    if not entity.get("resolution"):
        return
    try:
        record = json.loads(entity["resolution"])
    except ValueError:
        return
    nodes = set(record.get("nodes", ()))
    params = params_of(str(record.get("rules", "")))  # the thresholds that resolved it
    for d in record.get("decisions", ()):
        feats = ", ".join(f"{k}={v:g}" for k, v in d.get("features", ()))
        merged = d["a"] in nodes and d["b"] in nodes
        what = "merged because" if merged else "kept apart"
        print(f"{head}{what}: {d['a']} ~ {d['b']}  {d['rule']} score={d['score']:g}"
              + (f"  ({feats})" if feats else ""))
        if not merged and not d.get("firm") and d.get("dependent"):
            other = d["b"] if d["dependent"] == d["a"] else d["a"]
            print(f"{head}  ({d['dependent']}: {what_it_needs(d['dependent'], other, d['rule'], params)})")
    for a in record.get("aliases", ()):
        if a.get("stands_for"):
            posts = a.get("posts", ())
            print(f"{head}in its posts, {a['name']!r} is this entity: written beside {record['name']!r} "
                  f"({len(posts)} post{'s' if len(posts) != 1 else ''}: {', '.join(posts[:5])}"
                  + (" ..." if len(posts) > 5 else "") + ")")


def _evidence(driver, database, head: str, rel: str, tail: str, args) -> int:
    label = queries.resolve_relation(rel)
    if label is None:
        print(f"mmkg query: unknown relation {rel!r}; one of: {', '.join(sorted(RELATION_TYPES.values()))}",
              file=sys.stderr)
        return 2
    keys, rows = queries.evidence(driver, head, label, tail, database)
    if not rows:
        print(f"no {label} relation between {head!r} and {tail!r} in the graph", file=sys.stderr)
        return 1
    _print(keys, rows, args)
    return 0


def _show(driver, database, name: str, args) -> int:
    if not args.html:
        print("mmkg query: `show` needs --html FILE", file=sys.stderr)
        return 2
    hood = queries.neighbourhood(driver, name, database, limit=args.limit)
    if hood.empty:
        _not_found(driver, database, name)
        return 1
    path = write_neighbourhood_html(hood, args.html, f"mmkg: {name}")
    print(f"wrote {path}: {len(hood.entities) + len(hood.others)} entities, {len(hood.relations)} relations, "
          f"{len(hood.posts)} mentioning posts")
    return 0


def _not_found(driver, database, name: str) -> None:
    similar = queries.similar_entities(driver, name, database)
    hint = f"; similar: {', '.join(similar)}" if similar else ""
    print(f"no entity named {name!r} in the graph{hint}", file=sys.stderr)


def _params(items: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"parameter {item!r} is not NAME=VALUE")
        try:
            out[name] = json.loads(value)
        except ValueError:
            out[name] = value
    return out


def _print(keys, rows, args) -> None:
    if args.json:
        for row in rows:
            print(json.dumps({k: queries.to_plain(v) for k, v in zip(keys, row)}, ensure_ascii=False))
    else:
        print(queries.format_table(keys, rows, args.max_width))
