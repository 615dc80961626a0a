"""``mmkg audit sample|score``: a person's judgement of a run's triples, as precision with a
Wilson 95 % interval overall, per label and per confidence band (pipeline/audit.py)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from mmkg.kg import queries
from mmkg.kg.embedded import DATABASE, GRAPH_SUBDIR, StoreBusyError, graph_settings
from mmkg.pipeline.audit import AuditError, precision_table, read_marks, read_triples, sample, write_sheet
from mmkg.pipeline.options import add_graph_flags, graph_from_values


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mmkg audit", description="judge a sample of a run's triples, then score it")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="write a sheet (HTML + CSV) of randomly drawn triples to judge")
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--by", choices=("label", "confidence"), default=None, help="stratify the sample")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default=None, help="folder of the sheet (default: DATA_DIR/audit)")
    s.add_argument("--min-confidence", type=float, default=0.0,
                   help="only triples at or above this confidence (the run's graph cut, e.g. 0.5); "
                   "default: every triple in DATA_DIR/out")
    s.add_argument("--no-graph", action="store_true",
                   help="do not open the graph (the sheet then shows no post text or image)")
    add_graph_flags(s)
    c = sub.add_parser("score", help="precision of a judged sheet, with Wilson 95 %% intervals")
    c.add_argument("sheet", help="the audit.csv with its correct column filled in (y/n)")
    c.add_argument("--json", action="store_true")
    return ap


def _post_texts(args, post_ids: Sequence[str]) -> Dict[str, Tuple[str, Optional[str]]]:
    """Post text and image path from the graph; empty when the run wrote none (`mmkg run
    --no-graph`) or it cannot be reached (said on stderr: the sheet is still worth having)."""
    from neo4j.exceptions import DriverError, Neo4jError

    if args.no_graph:
        return {}
    try:
        return _graph_posts(args, post_ids)
    except (DriverError, Neo4jError) as e:
        print(f"mmkg audit: no post texts or images, the graph did not answer: {e}", file=sys.stderr)
        return {}


def _graph_posts(args, post_ids: Sequence[str]) -> Dict[str, Tuple[str, Optional[str]]]:
    explicit = graph_from_values(args.neo4j_uri, args.neo4j_username, args.neo4j_database)
    if explicit is None and not os.path.isdir(os.path.join(args.data_dir, GRAPH_SUBDIR, "databases", DATABASE)):
        return {}
    with graph_settings(args.data_dir, explicit, attach=True) as settings:
        driver = settings.driver()
        try:
            _, rows = queries.run_cypher(
                driver, "MATCH (p:Post) WHERE p.id IN $ids OPTIONAL MATCH (p)-[:HAS_IMAGE]->(i:Image) "
                "RETURN p.id, p.text, i.uri", {"ids": list(post_ids)}, settings.database)
        finally:
            driver.close()
    return {r[0]: (r[1], r[2]) for r in rows}


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.cmd == "sample":
            if args.n < 1:
                raise AuditError("--n must be at least 1")
            rows = sample(read_triples(args.data_dir, args.min_confidence), args.n, args.by, args.seed)
            try:
                posts = _post_texts(args, sorted({r["post_id"] for r in rows}))
            except StoreBusyError as e:
                raise AuditError(str(e)) from None
            html_path, csv_path = write_sheet(rows, posts, args.out or os.path.join(args.data_dir, "audit"))
            print(f"{len(rows)} triples to judge:\n  read   {html_path}\n  mark   {csv_path} (column correct: y/n)\n"
                  f"  score  mmkg audit score {csv_path}")
            return 0
        marked, blank = read_marks(args.sheet)
        if not marked:
            raise AuditError(f"{args.sheet}: no row is marked yet (column correct: y or n)")
        table = precision_table(marked)
        if args.json:
            print(json.dumps({"judged": len(marked), "blank": blank, "rows": table}, indent=2))
            return 0
        print(f"{len(marked)} judged triples ({blank} left blank, not counted)")
        print(f"{'by':<11} {'group':<32} {'n':>4} {'ok':>4} {'precision':>9}  95 % (Wilson)")
        for r in table:
            print(f"{r['by']:<11} {r['group']:<32} {r['n']:>4} {r['correct']:>4} {100 * r['precision']:>8.1f}%"
                  f"  [{100 * r['wilson_low']:.1f}, {100 * r['wilson_high']:.1f}]")
        return 0
    except AuditError as e:
        print(f"mmkg audit: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
