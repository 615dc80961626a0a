"""mmkg resolve: act on entity resolution's decisions in a graph.

    mmkg resolve undo NAME NAME     the two names are kept apart from now on (a merge undone)

`mmkg query entity NAME` shows an entity's names and why each was merged. With no --neo4j-uri /
NEO4J_URI, the embedded store under --data-dir is used.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from mmkg.cli.graph_flags import graph_to_open
from mmkg.kg.embedded import StoreBusyError, graph_settings
from mmkg.pipeline.options import add_graph_flags


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmkg resolve", description=__doc__.split("\n\n")[0],
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    u = sub.add_parser("undo", help="keep two names of one entity apart from now on; the split-off name takes "
                       "its posts' mentions and facts along")
    u.add_argument("names", nargs=2, metavar="NAME")
    add_graph_flags(u)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    explicit, missing = graph_to_open(args, "mmkg resolve")
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from neo4j.exceptions import Neo4jError, ServiceUnavailable

    # Deferred: it imports Beam (through transforms.resolve), which --help and a missing graph
    # should not wait for.
    from mmkg.kg.writer import GraphChangedError
    from mmkg.pipeline.undo import UndoError, undo_merge

    try:
        with graph_settings(args.data_dir, explicit, attach=True) as settings:
            driver = settings.driver()
            try:
                done = undo_merge(driver, *args.names, database=settings.database)
            finally:
                driver.close()
    except (UndoError, GraphChangedError) as e:
        print(f"mmkg resolve: {e}", file=sys.stderr)
        return 1
    except (StoreBusyError, Neo4jError, ServiceUnavailable) as e:
        print(f"mmkg resolve: {getattr(e, 'message', None) or e}", file=sys.stderr)
        return 1
    (a, b), (ka, kb) = args.names, done.keys
    print(f"{a!r} and {b!r} are kept apart from now on: {a!r} in {ka}, {b!r} in {kb} "
          f"(was {done.entity}; {done.posts_moved} post(s) moved with the split-off name)")
    return 0
